package cli

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/upgate-dev/upgate/apiretry"
)

// runClients are the clientsets the executor acts through: one that
// rides out the API server's absence for up to --api-retry-timeout per
// call, and one for the lock that does not, so that the lease's own
// renewal timing alone decides when the lock is lost.
func (a *app) runClients(cfg *Config) (client, lockClient kubernetes.Interface, err error) {
	if a.seams.clientset != nil {
		cs, err := a.seams.clientset()
		if err != nil {
			return nil, nil, runtimeErrorf("cannot reach a cluster: %s", oneLine(err))
		}
		return cs, cs, nil
	}
	rc, err := a.kube.ToRESTConfig()
	if err != nil {
		return nil, nil, runtimeErrorf("cannot reach a cluster: %s (pass --kubeconfig or --context)", oneLine(err))
	}
	if cfg.Timeout > 0 {
		rc.Timeout = cfg.Timeout
	}
	if lockClient, err = kubernetes.NewForConfig(rest.CopyConfig(rc)); err != nil {
		return nil, nil, runtimeErrorf("cannot reach a cluster: %s", oneLine(err))
	}
	a.retryAPI(rc, cfg)
	if client, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, nil, runtimeErrorf("cannot reach a cluster: %s", oneLine(err))
	}
	return client, lockClient, nil
}

// retryAPI makes clients built from rc retry while the API server is away,
// for up to cfg.APIRetryTimeout per call, and says so on stderr at most
// every few seconds.
func (a *app) retryAPI(rc *rest.Config, cfg *Config) {
	if cfg.APIRetryTimeout <= 0 {
		return
	}
	var mu sync.Mutex
	var last time.Time
	apiretry.Configure(rc, apiretry.Policy{
		Budget: cfg.APIRetryTimeout,
		OnRetry: func(req *http.Request, attempt int, reason string) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) < 5*time.Second {
				return
			}
			last = time.Now()
			fmt.Fprintf(a.streams.ErrOut, "upgate: %s; retrying %s %s for up to %s\n", strings.Join(strings.Fields(reason), " "), req.Method, req.URL.Path, cfg.APIRetryTimeout)
		},
	})
}
