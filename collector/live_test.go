//go:build e2e

package collector

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/upgate-dev/upgate/inventory"
)

// liveConfig is the cluster named by UPGATE_E2E_KUBECONFIG (as printed by
// `hack/cluster.sh up`); the test is skipped without one.
func liveConfig(t *testing.T) *rest.Config {
	t.Helper()
	kc := os.Getenv("UPGATE_E2E_KUBECONFIG")
	if kc == "" {
		t.Skip("UPGATE_E2E_KUBECONFIG is not set; run: KC=$(hack/cluster.sh up | tail -1) and pass it")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", kc, err)
	}
	return cfg
}

func TestLiveCollect(t *testing.T) {
	cfg := liveConfig(t)
	var progress strings.Builder
	c, err := New(cfg, Options{Timeout: 30 * time.Second, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress:\n%s", progress.String())
	t.Logf("server %s at %v, counts %v, warnings %q", inv.ServerVersion, inv.Sources, inv.Counts(), c.Warnings())

	if !strings.HasPrefix(inv.ServerVersion, "v1.") {
		t.Errorf("ServerVersion = %q, want a v1.x gitVersion", inv.ServerVersion)
	}
	if len(inv.Sources) != 1 || inv.Sources[0] != hostOf(cfg.Host) {
		t.Errorf("Sources = %q, want [%s]", inv.Sources, hostOf(cfg.Host))
	}
	if len(inv.Nodes) == 0 {
		t.Error("no nodes")
	}
	kubeSystem := 0
	for _, p := range inv.Pods {
		if p.Namespace == "kube-system" {
			kubeSystem++
		}
		if p.ManagedFields != nil {
			t.Errorf("pod %s/%s kept its managedFields", p.Namespace, p.Name)
		}
	}
	if kubeSystem == 0 {
		t.Error("no kube-system pods")
	}
	if w := c.Warnings(); w != nil {
		t.Errorf("warnings with an admin kubeconfig: %q", w)
	}
	// Every object read is a usage of the version it was served at.
	if served := countVia(inv.APIUsages, inventory.ViaServed); served < len(inv.Nodes)+len(inv.Pods) {
		t.Errorf("%d served usages for %d nodes and %d pods", served, len(inv.Nodes), len(inv.Pods))
	}

	// Small pages must give the same state as big ones.
	small, err := New(cfg, Options{PageSize: 2, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	paged, err := small.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(paged.Nodes) != len(inv.Nodes) || len(paged.Namespaces) != len(inv.Namespaces) {
		t.Errorf("PageSize 2 read %d nodes, %d namespaces; PageSize 500 read %d, %d",
			len(paged.Nodes), len(paged.Namespaces), len(inv.Nodes), len(inv.Namespaces))
	}
}

func countVia(usages []inventory.APIUsage, via inventory.UsageVia) int {
	n := 0
	for _, u := range usages {
		if u.Via == via {
			n++
		}
	}
	return n
}

func TestLiveDeprecatedRequests(t *testing.T) {
	cfg := liveConfig(t)
	// Make a deprecated request ourselves so the series is there whatever
	// else ran: core v1 Endpoints is deprecated with no removal release.
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Endpoints(metav1.NamespaceDefault).List(t.Context(), metav1.ListOptions{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := c.DeprecatedRequests(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("deprecated requests: %+v", reqs)
	want := inventory.DeprecatedRequest{Version: "v1", Resource: "endpoints"}
	if !slices.Contains(reqs, want) {
		t.Errorf("no %+v among the deprecated requests after listing v1 Endpoints", want)
	}
	for _, r := range reqs {
		if r.Version == "" || r.Resource == "" {
			t.Errorf("series without version or resource: %+v", r)
		}
	}
}

func TestLiveForbiddenFailsClosed(t *testing.T) {
	cfg := rest.CopyConfig(liveConfig(t))
	// A user with no RBAC at all: /version stays readable (it is public),
	// every list is forbidden.
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "upgate-e2e-nobody"}
	c, err := New(cfg, Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.Collect(t.Context())
	if inv != nil || !errors.Is(err, ErrCollect) || !apierrors.IsForbidden(err) {
		t.Fatalf("Collect as a user without RBAC = %v, %v; want no inventory and a forbidden ErrCollect", inv, err)
	}
	if !strings.HasPrefix(err.Error(), "list ") || !strings.Contains(err.Error(), "RBAC needs list on it") {
		t.Errorf("error %q does not name the resource and the RBAC needed", err)
	}
	t.Logf("as expected: %v", err)
}
