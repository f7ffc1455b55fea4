package collector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/upgate-dev/upgate/inventory"
)

// watchVerbs is what an informer needs: its first list may be a
// streaming watch, on servers that serve them.
const watchVerbs = "list and watch"

// defaultSyncTimeout bounds Watch's first list of every kind.
const defaultSyncTimeout = 2 * time.Minute

// Watched is the cluster state kept by client-go informers, one per kind
// Collect lists (the same table, resources.go): listed once, then watched.
// Inventory reads it without listing anything again. Stop it when done.
type Watched struct {
	c      *Collector
	kinds  []*watched
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   sync.Once
}

// watched is one kind's informer.
type watched struct {
	name     string
	informer cache.SharedIndexInformer
	// transform is what the informer keeps of an object.
	transform cache.TransformFunc
	// fill adds the cached objects to inv as Collect would list them.
	fill func(inv *inventory.Inventory) error

	mu  sync.Mutex
	err error // the informer's last list or watch error
}

func (w *watched) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

func (w *watched) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Watch reads /version, starts an informer for every kind Collect lists
// and waits, at most Options.SyncTimeout, until each has listed its kind.
// It fails closed as Collect does: an unreachable server fails on
// /version; a kind that cannot be listed (RBAC forbidden, unauthorized)
// fails at once with an error wrapping ErrCollect that names the resource
// and the verb to grant; one that has not listed within the timeout fails
// with the last error its informer saw. On failure nothing keeps running.
//
// The informers live until Stop or until ctx ends. They keep objects
// scrubbed as Collect does (inventory.Scrub); only the API versions of
// managedFields are kept, to be recorded as usages.
func (c *Collector) Watch(ctx context.Context) (*Watched, error) {
	if c.optErr != nil {
		return nil, c.optErr
	}
	if _, err := c.serverVersion(ctx); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &Watched{c: c, cancel: cancel}
	for _, r := range resources(c.cs) {
		k := r.watch(c)
		// Record list and watch failures; the reflector retries with
		// backoff on its own.
		if err := k.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			k.setErr(err)
		}); err != nil {
			cancel()
			return nil, fmt.Errorf("collector: watch %s: %w", r.name, err)
		}
		w.kinds = append(w.kinds, k)
	}
	for _, k := range w.kinds {
		w.wg.Go(func() { k.informer.RunWithContext(wctx) })
	}
	if err := w.waitSynced(ctx); err != nil {
		w.Stop()
		return nil, err
	}
	return w, nil
}

// waitSynced waits for every informer's first list.
func (w *Watched) waitSynced(ctx context.Context) error {
	start := time.Now()
	deadline := time.NewTimer(w.c.opts.SyncTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		synced := true
		for _, k := range w.kinds {
			if k.informer.HasSynced() {
				continue
			}
			synced = false
			if err := k.lastErr(); err != nil && permanent(err) {
				return newError("list "+k.name, err, watchVerbs)
			}
		}
		if synced {
			for _, k := range w.kinds {
				w.c.out.printf("watching %d %s (synced in %s)", len(k.informer.GetStore().ListKeys()), k.name, time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return newError("watch cluster state", ctx.Err(), "")
		case <-deadline.C:
			var errs []error
			for _, k := range w.kinds {
				if k.informer.HasSynced() {
					continue
				}
				err := k.lastErr()
				if err == nil {
					err = fmt.Errorf("not listed within %s: %w", w.c.opts.SyncTimeout, context.DeadlineExceeded)
				}
				errs = append(errs, newError("list "+k.name, err, watchVerbs))
			}
			return errors.Join(errs...)
		}
	}
}

// permanent is a list error that retrying will not cure: the reflector
// would retry it forever, a gate must not wait for it.
func permanent(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
}

// Stop ends every informer and waits for them. It may be called more than
// once.
func (w *Watched) Stop() {
	w.stop.Do(func() {
		w.cancel()
		w.wg.Wait()
	})
}

// Inventory is the cluster as the informers see it now, in the same shape
// Collect returns (same objects, usages and order), without listing: the
// objects come from the informers' caches; /version, /metrics (the
// deprecated API requests) and, with Options.NodeStats, the stats
// summaries are read again on each call, as Collect reads them, since the
// control plane's version moves during a run. The objects share their
// nested fields with the caches: the result must be read, never changed.
// Calls must not overlap if Warnings is read.
//
// node, when not empty, is a node the caller has just changed (cordoned,
// uncordoned, annotated): it is read from the API server first, and the
// call waits, at most Options.SyncTimeout, until the nodes' cache holds
// that version of it. Watch events arrive in order, so every change made
// to any node before the call is then in the result too. Other kinds are
// as fresh as their watches (milliseconds behind, usually).
func (w *Watched) Inventory(ctx context.Context, node string) (*inventory.Inventory, error) {
	c := w.c
	if node != "" {
		if err := w.caughtUp(ctx, node); err != nil {
			return nil, err
		}
	}
	c.setWarnings(nil)
	inv := &inventory.Inventory{CollectedAt: time.Now().UTC()}
	if c.host != "" {
		inv.Sources = []string{c.host}
	}
	v, err := c.serverVersion(ctx)
	if err != nil {
		return nil, err
	}
	inv.ServerVersion = v
	for _, k := range w.kinds {
		if err := k.fill(inv); err != nil {
			return nil, err
		}
	}
	reqs, warn, err := c.deprecatedRequests(ctx)
	if err != nil {
		return nil, err
	}
	inv.DeprecatedRequests = reqs
	var warnings []string
	if warn != "" {
		warnings = append(warnings, warn)
	}
	if err := c.finish(ctx, inv, warnings); err != nil {
		return nil, err
	}
	return inv, nil
}

// caughtUp waits until the nodes' cache holds node as the API server has
// it now (or a later version of it), or, when it is gone, no longer has it.
func (w *Watched) caughtUp(ctx context.Context, node string) error {
	var nodes *watched
	for _, k := range w.kinds {
		if k.name == "nodes" {
			nodes = k
		}
	}
	if nodes == nil {
		return newError("watch nodes", errors.New("no informer for nodes"), "")
	}
	gctx, cancel := w.c.callContext(ctx)
	live, err := w.c.cs.CoreV1().Nodes().Get(gctx, node, metav1.GetOptions{})
	cancel()
	gone := apierrors.IsNotFound(err)
	if err != nil && !gone {
		return newError("get node "+node, err, "get")
	}
	deadline := time.NewTimer(w.c.opts.SyncTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		x, exists, err := nodes.informer.GetStore().GetByKey(node)
		if err != nil {
			return newError("read node "+node+" from the watch cache", err, "")
		}
		if gone && !exists {
			return nil
		}
		if !gone && exists {
			o, ok := x.(metav1.Object)
			switch {
			case !ok:
			case live.ResourceVersion != "":
				if !olderVersion(o.GetResourceVersion(), live.ResourceVersion) {
					return nil
				}
			default:
				// No resourceVersion (client-go's fake): caught up when
				// the cache holds what the server has.
				if t, err := nodes.transform(live.DeepCopy()); err == nil && equality.Semantic.DeepEqual(t, x) {
					return nil
				}
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return newError("watch nodes", ctx.Err(), "")
		case <-deadline.C:
			err := fmt.Errorf("node %s: the watch has not caught up with the API server within %s", node, w.c.opts.SyncTimeout)
			if last := nodes.lastErr(); last != nil {
				err = fmt.Errorf("%w (last watch error: %w)", err, last)
			}
			return newError("watch nodes", err, "")
		}
	}
}

// olderVersion says whether the cached resourceVersion is before the live
// one. Both are etcd revisions on every API server upgate meets; were they
// not numbers, only the same version counts as caught up.
func olderVersion(cached, live string) bool {
	a, errA := strconv.ParseUint(cached, 10, 64)
	b, errB := strconv.ParseUint(live, 10, 64)
	if errA != nil || errB != nil {
		return cached != live
	}
	return a < b
}

// watch builds the kind's informer. Its transform scrubs each object as
// collect does, keeping of managedFields only their API versions (one
// entry each), which is all RecordUsages reads of them: fill records the
// same usages collect records from the raw object.
func (l lister[T, PT, L]) watch(c *Collector) *watched {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			ctx, cancel := c.callContext(ctx)
			defer cancel()
			return l.client.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return l.client.Watch(ctx, opts)
		},
	}
	// The clientset says whether it serves streaming lists (client-go's
	// fake does not); the informer falls back to a list when it does not.
	inf := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, c.cs), PT(new(T)), 0, cache.Indexers{})
	transform := func(obj any) (any, error) {
		o, ok := obj.(PT)
		if !ok {
			return obj, nil // a tombstone: its object was transformed when added
		}
		var versions []metav1.ManagedFieldsEntry
		seen := map[string]bool{}
		for _, mf := range o.GetManagedFields() {
			if mf.APIVersion != "" && !seen[mf.APIVersion] {
				seen[mf.APIVersion] = true
				versions = append(versions, metav1.ManagedFieldsEntry{APIVersion: mf.APIVersion})
			}
		}
		inventory.Scrub(o)
		o.SetManagedFields(versions)
		return o, nil
	}
	// SetTransform fails only once the informer runs; it does not yet.
	_ = inf.SetTransform(transform)
	k := &watched{name: l.name, informer: inf, transform: transform}
	k.fill = func(inv *inventory.Inventory) error {
		objs := inf.GetStore().List()
		// In the inventory's order (namespace, name), sorting the cache's
		// pointers: the inventory's sort then finds them in order and
		// moves no object (150,000 pods on each node's gate).
		inventory.SortByMeta(objs, func(x *any) (string, string) {
			if o, ok := (*x).(metav1.Object); ok {
				return o.GetNamespace(), o.GetName()
			}
			return "", "" // not an object: first, and fill reports it
		})
		all := make([]T, len(objs))
		var usages inventory.Inventory // only its APIUsages are used
		for i, x := range objs {
			o, ok := x.(PT)
			if !ok {
				return newError("read "+l.name+" from the watch cache", fmt.Errorf("cached object is a %T, not a %s", x, l.kind), "")
			}
			all[i] = *o // a shallow copy: the cache's object is never changed
			p := PT(&all[i])
			meta := metav1.ObjectMeta{
				Namespace: p.GetNamespace(), Name: p.GetName(),
				Annotations: p.GetAnnotations(), ManagedFields: p.GetManagedFields(),
			}
			usages.RecordUsages("", l.apiVersion, l.kind, &meta)
			p.SetManagedFields(nil)
		}
		l.set(inv, all)
		inv.APIUsages = append(inv.APIUsages, usages.APIUsages...)
		return nil
	}
	return k
}
