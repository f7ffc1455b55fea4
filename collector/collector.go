// Package collector reads the live cluster state upgate's checks evaluate
// into an inventory.Inventory: paginated lists of the modelled kinds, the
// server version, and the API server's record of deprecated API requests.
//
// It fails closed: if any list cannot be read the whole collection fails
// with an error wrapping ErrCollect and no inventory is returned, so a gate
// never passes on partial data. Secrets and ConfigMaps are never read.
package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/upgate-dev/upgate/inventory"
)

// Options tune a Collector. Every zero value has a documented default.
type Options struct {
	// Concurrency bounds how many lists run at once; zero means 4.
	Concurrency int
	// PageSize is the Limit of each list page; zero means 500.
	PageSize int64
	// Timeout bounds each API request (one list page, /version, /metrics);
	// zero means no timeout beyond the context's.
	Timeout time.Duration
	// Progress, when set, receives one line per finished list.
	Progress io.Writer
	// NodeStats also reads each node's kubelet stats summary through the
	// API server's node proxy (root filesystem free bytes), which needs
	// get on nodes/proxy; a node whose summary cannot be read is recorded
	// with the reason, never a failure (see NodeStats).
	NodeStats bool
	// NodeStatsConcurrency bounds how many summaries are read at once;
	// zero means 16.
	NodeStatsConcurrency int
	// NodeStatsTimeout bounds each node's summary; zero means 5s.
	NodeStatsTimeout time.Duration
	// SyncTimeout bounds Watch's first list of every kind; zero means 2m.
	SyncTimeout time.Duration
}

const (
	defaultConcurrency = 4
	defaultPageSize    = 500

	protobuf = "application/vnd.kubernetes.protobuf"
)

// Collector reads cluster state through a clientset. Collect may be called
// more than once; calls must not overlap if Warnings is read.
type Collector struct {
	cs   kubernetes.Interface
	opts Options
	// optErr is the options' validation error, kept by NewForClient (which
	// cannot return it) and returned by every call: never collect with a
	// configuration nobody asked for.
	optErr error
	// host is the API server's scheme://host, the inventory's source.
	host string
	out  *progress

	mu       sync.Mutex
	warnings []string
}

// New builds a Collector for cfg. Lists are requested as protobuf, which
// the API server encodes and client-go decodes several times faster than
// JSON for large pod lists; JSON stays acceptable for servers (or
// aggregated APIs) that do not speak it.
func New(cfg *rest.Config, opts Options) (*Collector, error) {
	if cfg == nil {
		return nil, errors.New("collector: no cluster configuration")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	cc := rest.CopyConfig(cfg)
	cc.ContentType = protobuf
	cc.AcceptContentTypes = protobuf + ",application/json"
	// Discovery().ServerVersion takes no context, so the HTTP client's own
	// timeout is what keeps a hung /version from hanging us.
	if cc.Timeout == 0 && opts.Timeout > 0 {
		cc.Timeout = opts.Timeout
	}
	cs, err := kubernetes.NewForConfig(cc)
	if err != nil {
		return nil, fmt.Errorf("collector: build client for %s: %w", cfg.Host, err)
	}
	c := NewForClient(cs, opts)
	c.host = hostOf(cfg.Host)
	return c, nil
}

// NewForClient builds a Collector on an existing clientset, such as
// client-go's fake. Invalid options make every later call fail.
func NewForClient(cs kubernetes.Interface, opts Options) *Collector {
	c := &Collector{cs: cs, optErr: opts.validate(), opts: opts.withDefaults()}
	c.out = &progress{w: opts.Progress}
	if rc := restClient(cs); rc != nil {
		c.host = hostOf(rc.Get().AbsPath("/").URL().String())
	}
	return c
}

// Collect lists every modelled kind, the server version and the deprecated
// API requests into a sorted inventory, and, with Options.NodeStats, each
// node's kubelet stats summary once the nodes are listed. On any failure to read cluster
// state it returns an error wrapping ErrCollect and no inventory. Warnings
// (data that is optional, such as /metrics without RBAC for it) are
// available from Warnings afterwards.
func (c *Collector) Collect(ctx context.Context) (*inventory.Inventory, error) {
	if c.optErr != nil {
		return nil, c.optErr
	}
	c.setWarnings(nil)
	inv := &inventory.Inventory{CollectedAt: time.Now().UTC()}
	if c.host != "" {
		inv.Sources = []string{c.host}
	}
	// /version first and alone: an unreachable or unauthorised server then
	// fails with one error instead of one per resource.
	v, err := c.serverVersion(ctx)
	if err != nil {
		return nil, err
	}
	inv.ServerVersion = v

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	var mu sync.Mutex // guards inv while lists commit their results
	for _, r := range resources(c.cs) {
		g.Go(func() error { return r.collect(gctx, c, inv, &mu) })
	}
	var warnings []string
	g.Go(func() error {
		reqs, warn, err := c.deprecatedRequests(gctx)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		inv.DeprecatedRequests = reqs
		if warn != "" {
			warnings = append(warnings, warn)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := c.finish(ctx, inv, warnings); err != nil {
		return nil, err
	}
	return inv, nil
}

// finish reads the stats summaries of inv's nodes (Options.NodeStats),
// keeps the warnings and sorts inv: what Collect and Watched.Inventory do
// once the objects are in.
func (c *Collector) finish(ctx context.Context, inv *inventory.Inventory, warnings []string) error {
	if c.opts.NodeStats {
		names := make([]string, len(inv.Nodes))
		for i := range inv.Nodes {
			names[i] = inv.Nodes[i].Name
		}
		var err error
		if inv.NodeStats, err = c.NodeStats(ctx, names); err != nil {
			return err
		}
		if w := statsWarning(inv.NodeStats); w != "" {
			warnings = append(warnings, w)
		}
	}
	c.setWarnings(warnings)
	inv.Sort()
	return nil
}

// Warnings returns what the last Collect could not read but did not need
// to, one sentence each (e.g. /metrics forbidden); nil when there was none.
func (c *Collector) Warnings() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.warnings...)
}

func (c *Collector) setWarnings(w []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnings = w
}

// serverVersion reads /version. Discovery's ServerVersion has no context
// parameter, so it runs aside and a cancelled ctx stops the wait; the
// request itself is bounded by the client's timeout when one is set.
func (c *Collector) serverVersion(ctx context.Context) (string, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	type result struct {
		v   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		info, err := c.cs.Discovery().ServerVersion()
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{v: info.GitVersion}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return "", newError("get server version", r.err, "")
		}
		return r.v, nil
	case <-ctx.Done():
		return "", newError("get server version", ctx.Err(), "")
	}
}

// callContext bounds one API request by Options.Timeout.
func (c *Collector) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.opts.Timeout > 0 {
		return context.WithTimeout(ctx, c.opts.Timeout)
	}
	return context.WithCancel(ctx)
}

// restClient is the clientset's REST client for non-resource paths, or nil
// when it has none (client-go's fake).
func restClient(cs kubernetes.Interface) rest.Interface {
	rc := cs.Discovery().RESTClient()
	if r, ok := rc.(*rest.RESTClient); ok && r == nil {
		return nil
	}
	return rc
}

// hostOf keeps scheme and host of the server URL: a kubeconfig's server
// may carry a path, but the source a report names is the server.
func hostOf(server string) string {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return server
	}
	return u.Scheme + "://" + u.Host
}
