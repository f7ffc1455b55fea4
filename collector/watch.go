package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
	kind     string
	informer cache.SharedIndexInformer
	// transform is what the informer keeps of an object.
	transform cache.TransformFunc
	// fill adds the cached objects to inv as Collect would list them.
	fill func(inv *inventory.Inventory) error

	mu  sync.Mutex
	err error // the informer's last list or watch error; nil since one succeeded
	// open is set while a watch of the kind is open: the cache follows
	// the API server. gen numbers the watches, so that the end of one
	// does not close the next.
	open bool
	gen  uint64
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

// listed records a list: a failed one is the kind's error; one that
// succeeded clears it (a watch opens next).
func (w *watched) listed(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

// opened records a watch request: a failed one is the kind's error, one
// that succeeded is the open watch, numbered.
func (w *watched) opened(err error) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
	w.open = err == nil
	w.gen++
	return w.gen
}

// closed records the end of watch gen: the cache no longer follows the
// API server until the informer opens another. err, when not nil, is why
// (an error event). The end of a watch the informer already replaced
// changes nothing.
func (w *watched) closed(gen uint64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gen != gen {
		return
	}
	w.open = false
	if err != nil {
		w.err = err
	}
}

// following says whether the kind's cache follows the API server now (its
// watch is open, and no list or watch failed since it opened), and if not,
// the last error seen.
func (w *watched) following() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.open && w.err == nil, w.err
}

// trackedWatch passes a watch's events to the informer and records, on
// its kind, when it ends and an error event that ended it.
type trackedWatch struct {
	inner watch.Interface
	out   chan watch.Event
	stop  chan struct{}
	once  sync.Once
}

func track(k *watched, gen uint64, inner watch.Interface) *trackedWatch {
	t := &trackedWatch{inner: inner, out: make(chan watch.Event), stop: make(chan struct{})}
	go func() {
		// Recorded first: the informer sees an error or the end after its
		// kind does, and opens the next watch after that.
		defer close(t.out)
		defer k.closed(gen, nil)
		for ev := range inner.ResultChan() {
			if ev.Type == watch.Error {
				k.closed(gen, apierrors.FromObject(ev.Object))
			}
			select {
			case t.out <- ev:
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

func (t *trackedWatch) ResultChan() <-chan watch.Event { return t.out }

func (t *trackedWatch) Stop() {
	t.once.Do(func() {
		close(t.stop)
		t.inner.Stop()
	})
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
// scrubbed as Collect does (inventory.Scrub), their API usages recorded
// first, as Collect records them.
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
	// Filled by kind, each kind's usages in order, the inventory's usages
	// need no sort (Inventory.Sort checks first).
	slices.SortFunc(w.kinds, func(a, b *watched) int { return strings.Compare(a.kind, b.kind) })
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
			following, err := k.following()
			if k.informer.HasSynced() && following {
				continue
			}
			synced = false
			if err != nil && permanent(err) {
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
				following, err := k.following()
				if k.informer.HasSynced() && following {
					continue
				}
				if err == nil {
					what := "listed"
					if k.informer.HasSynced() {
						what = "watched"
					}
					err = fmt.Errorf("not %s within %s: %w", what, w.c.opts.SyncTimeout, context.DeadlineExceeded)
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

// OnChange calls f after each change the informers see, in any kind: an
// object added, changed or deleted after Watch returned (not the objects
// it listed first, nor the same versions listed again after a broken
// watch). When f runs, Inventory already holds the change. f runs on the
// informers' notification goroutines and must return at once (serve sends
// on a buffered channel without blocking). Only those who ask pay for it:
// without OnChange the informers have no handler (upgate run).
func (w *Watched) OnChange(f func()) error {
	h := cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(_ any, initial bool) {
			if !initial {
				f()
			}
		},
		UpdateFunc: func(old, cur any) {
			if !sameVersion(old, cur) {
				f()
			}
		},
		DeleteFunc: func(any) { f() },
	}
	for _, k := range w.kinds {
		if _, err := k.informer.AddEventHandler(h); err != nil {
			return fmt.Errorf("collector: watch %s: %w", k.name, err)
		}
	}
	return nil
}

// sameVersion says whether an update notification is no change: the same
// object, or the same resourceVersion of it (a relist after a broken
// watch hands every object over again).
func sameVersion(old, cur any) bool {
	if old == cur {
		return true
	}
	o, ok1 := old.(metav1.Object)
	c, ok2 := cur.(metav1.Object)
	return ok1 && ok2 && o.GetResourceVersion() != "" && o.GetResourceVersion() == c.GetResourceVersion()
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
// control plane's version moves during a run. The objects are the
// caches' own, and each list is shared with later calls until one of its
// objects changes (a new list is built then): the result must be read,
// never changed.
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
	if err := w.following(ctx); err != nil {
		return nil, err
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

// following waits, at most Options.SyncTimeout, until the cache of every
// kind follows the API server: its watch open, and no list or watch
// failed since it opened. A kind the informer may no longer list or watch
// (forbidden, unauthorized) fails at once; one whose watch has not opened
// again within the timeout (or before ctx ends) fails with the last error
// its informer saw. A cache that stopped following is never read: its
// objects may be any age.
func (w *Watched) following(ctx context.Context) error {
	var deadline <-chan time.Time
	var tick <-chan time.Time
	for {
		var behind []*watched
		for _, k := range w.kinds {
			ok, err := k.following()
			if ok {
				continue
			}
			if err != nil && permanent(err) {
				return newError("watch "+k.name, err, watchVerbs)
			}
			behind = append(behind, k)
		}
		if len(behind) == 0 {
			return nil
		}
		if deadline == nil {
			timer := time.NewTimer(w.c.opts.SyncTimeout)
			defer timer.Stop()
			ticker := time.NewTicker(20 * time.Millisecond)
			defer ticker.Stop()
			deadline, tick = timer.C, ticker.C
		}
		var waited error
		select {
		case <-tick:
			continue
		case <-ctx.Done():
			waited = ctx.Err()
		case <-deadline:
			waited = fmt.Errorf("not watched again within %s: %w", w.c.opts.SyncTimeout, context.DeadlineExceeded)
		}
		var errs []error
		for _, k := range behind {
			err := waited
			if _, last := k.following(); last != nil {
				err = fmt.Errorf("%w (last list or watch error: %w)", waited, last)
			}
			errs = append(errs, newError("watch "+k.name, err, watchVerbs))
		}
		return errors.Join(errs...)
	}
}

// caughtUp waits until the nodes' cache holds node as the API server has
// it now (or a later version of it), or, when it is gone, no longer has it;
// then, on a real API server, until the pods' cache holds each pod bound
// to the node at least at its version now. Each kind has its own watch:
// after the API server was away they reconnect one by one, and a node's
// validation must not judge its mirror pods as they were before its
// upgrade (seen in the soak: a kube-apiserver pod read at the old image).
func (w *Watched) caughtUp(ctx context.Context, node string) error {
	versioned, err := w.nodeCaughtUp(ctx, node)
	if err != nil || !versioned {
		return err
	}
	return w.podsCaughtUp(ctx, node)
}

// podsCaughtUp waits until the pods' cache holds every pod bound to node
// at its version now, or a later one (a pod gone since is not waited for).
func (w *Watched) podsCaughtUp(ctx context.Context, node string) error {
	var pods *watched
	for _, k := range w.kinds {
		if k.name == "pods" {
			pods = k
		}
	}
	if pods == nil {
		return newError("watch pods", errors.New("no informer for pods"), "")
	}
	lctx, cancel := w.c.callContext(ctx)
	live, err := w.c.cs.CoreV1().Pods(metav1.NamespaceAll).List(lctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	cancel()
	if err != nil {
		return newError("list pods on node "+node, err, "list")
	}
	deadline := time.NewTimer(w.c.opts.SyncTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := range live.Items {
		p := &live.Items[i]
		if p.Spec.NodeName != node || p.ResourceVersion == "" {
			continue
		}
		key := p.Namespace + "/" + p.Name
		for {
			x, exists, err := pods.informer.GetStore().GetByKey(key)
			if err != nil {
				return newError("read pod "+key+" from the watch cache", err, "")
			}
			if o, ok := x.(metav1.Object); exists && ok && !olderVersion(o.GetResourceVersion(), p.ResourceVersion) {
				break
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return newError("watch pods", ctx.Err(), "")
			case <-deadline.C:
				err := fmt.Errorf("pod %s on node %s: the watch has not caught up with the API server within %s", key, node, w.c.opts.SyncTimeout)
				if last := pods.lastErr(); last != nil {
					err = fmt.Errorf("%w (last watch error: %w)", err, last)
				}
				return newError("watch pods", err, "")
			}
		}
	}
	return nil
}

// nodeCaughtUp waits until the nodes' cache holds node as the API server
// has it now (or a later version of it), or, when it is gone, no longer
// has it. versioned says whether the server gives resourceVersions
// (client-go's fake clientset does not: its pods are not waited for).
func (w *Watched) nodeCaughtUp(ctx context.Context, node string) (versioned bool, err error) {
	var nodes *watched
	for _, k := range w.kinds {
		if k.name == "nodes" {
			nodes = k
		}
	}
	if nodes == nil {
		return false, newError("watch nodes", errors.New("no informer for nodes"), "")
	}
	gctx, cancel := w.c.callContext(ctx)
	live, err := w.c.cs.CoreV1().Nodes().Get(gctx, node, metav1.GetOptions{})
	cancel()
	gone := apierrors.IsNotFound(err)
	if err != nil && !gone {
		return false, newError("get node "+node, err, "get")
	}
	deadline := time.NewTimer(w.c.opts.SyncTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		x, exists, err := nodes.informer.GetStore().GetByKey(node)
		if err != nil {
			return false, newError("read node "+node+" from the watch cache", err, "")
		}
		if gone && !exists {
			return false, nil // its pods went with it
		}
		if !gone && exists {
			o, ok := x.(metav1.Object)
			switch {
			case !ok:
			case live.ResourceVersion != "":
				if !olderVersion(o.GetResourceVersion(), live.ResourceVersion) {
					return true, nil
				}
			default:
				// No resourceVersion (client-go's fake): caught up when
				// the cache holds what the server has.
				if t, err := nodes.transform(live.DeepCopy()); err == nil && equality.Semantic.DeepEqual(t, x) {
					return false, nil
				}
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false, newError("watch nodes", ctx.Err(), "")
		case <-deadline.C:
			err := fmt.Errorf("node %s: the watch has not caught up with the API server within %s", node, w.c.opts.SyncTimeout)
			if last := nodes.lastErr(); last != nil {
				err = fmt.Errorf("%w (last watch error: %w)", err, last)
			}
			return false, newError("watch nodes", err, "")
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
func (l lister[T, PT, L, M]) watch(c *Collector) *watched {
	k := &watched{name: l.name, kind: l.kind}
	// Each list and watch is recorded on the kind: Inventory reads the
	// cache only while it follows the API server.
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			ctx, cancel := c.callContext(ctx)
			defer cancel()
			list, err := l.client.List(ctx, opts)
			k.listed(err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := l.client.Watch(ctx, opts)
			gen := k.opened(err)
			if err != nil {
				return nil, err
			}
			return track(k, gen, w), nil
		},
	}
	// The clientset says whether it serves streaming lists (client-go's
	// fake does not); the informer falls back to a list when it does not.
	inf := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, c.cs), PT(new(T)), 0, cache.Indexers{})
	var view watchView[M]
	usages := func(o metav1.Object) []inventory.APIUsage {
		var u inventory.Inventory // only its APIUsages are used
		meta := metav1.ObjectMeta{
			Namespace: o.GetNamespace(), Name: o.GetName(),
			Annotations: o.GetAnnotations(), ManagedFields: o.GetManagedFields(),
		}
		u.RecordUsages("", l.apiVersion, l.kind, &meta)
		u.Sort() // only the usages: in the inventory's order
		return u.APIUsages
	}
	// keep is what the cache keeps of an object: what Collect keeps, and
	// the API usages Collect records from the raw object.
	keep := func(o PT) (M, []inventory.APIUsage) {
		u := usages(o)
		return l.keep(o), u
	}
	transform := func(obj any) (any, error) {
		if o, ok := obj.(PT); ok {
			m, _ := keep(o)
			return m, nil
		}
		return obj, nil // not a PT: a tombstone, whose object was transformed when added
	}
	// SetTransform fails only once the informer runs; it does not yet.
	_ = inf.SetTransform(func(obj any) (any, error) {
		if o, ok := obj.(PT); ok {
			m, u := keep(o)
			view.put(m, u)
			return m, nil
		}
		return obj, nil
	})
	k.informer, k.transform = inf, transform
	k.fill = func(inv *inventory.Inventory) error {
		objs, usages, err := view.update(inf.GetStore().List(), func(o M) []inventory.APIUsage { return usages(o) })
		if err != nil {
			return newError("read "+l.name+" from the watch cache", fmt.Errorf("%w, not a %s", err, l.kind), "")
		}
		l.set(inv, objs)
		inv.APIUsages = append(inv.APIUsages, usages...)
		return nil
	}
	return k
}

// watchView is one kind's cached objects as the last fill handed them
// over: in the inventory's order, with each object's API usages. The
// cache's objects are never changed in place (an update stores a new
// object), so an object seen at the same address is the same object, and
// what was worked out of it holds. A fill then costs a pass over the
// cache's pointers; only new objects are sorted and merged in (on each
// node's gate in a run, 150,000 pods, of which a drain changes a few
// dozen).
//
// The usages are recorded by the informer's transform, before Scrub drops
// the managedFields they are read from, and wait in pending until a fill
// meets their object in the cache.
type watchView[PT comparable] struct {
	mu      sync.Mutex // serve and run may read one Watched at once
	sorted  []PT
	usages  map[PT][]inventory.APIUsage
	flat    []inventory.APIUsage // the usages in sorted's order
	pending map[PT]pendingUsages
	gen     uint64 // counts fills
}

type pendingUsages struct {
	usages []inventory.APIUsage
	gen    uint64 // the fill count when they were recorded
}

// put records the usages of an object the cache is about to store.
func (v *watchView[PT]) put(o PT, u []inventory.APIUsage) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pending == nil {
		v.pending = map[PT]pendingUsages{}
	}
	v.pending[o] = pendingUsages{u, v.gen}
}

// update returns the cached objects in the inventory's order and their
// usages. The slices returned are shared with later calls: read only.
// usagesOf records an object's usages from what the cache kept of it,
// should its transform's record be missing (it never is when the
// informer's transform ran).
func (v *watchView[PT]) update(cached []any, usagesOf func(PT) []inventory.APIUsage) ([]PT, []inventory.APIUsage, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	var fresh []PT
	present := 0
	for _, x := range cached {
		o, ok := x.(PT)
		if !ok {
			return nil, nil, fmt.Errorf("cached object is a %T", x)
		}
		if _, seen := v.usages[o]; seen {
			present++
		} else {
			fresh = append(fresh, o)
		}
	}
	defer v.prune()
	if len(fresh) == 0 && present == len(v.sorted) {
		return v.sorted, v.flat, nil // nothing added, changed or deleted
	}
	// The objects still cached keep their order; the new ones, sorted, are
	// merged in.
	keep := make(map[PT]bool, present)
	for _, x := range cached {
		o := x.(PT)
		if _, seen := v.usages[o]; seen {
			keep[o] = true
		}
	}
	meta := func(o PT) (string, string) {
		m := any(o).(metav1.Object)
		return m.GetNamespace(), m.GetName()
	}
	inventory.SortByMeta(fresh, meta)
	usages := make(map[PT][]inventory.APIUsage, len(cached))
	sorted := make([]PT, 0, len(cached))
	flat := make([]inventory.APIUsage, 0, len(v.flat)+len(fresh))
	add := func(o PT, u []inventory.APIUsage) {
		sorted = append(sorted, o)
		usages[o] = u
		flat = append(flat, u...)
	}
	addFresh := func(o PT) {
		p, ok := v.pending[o]
		if !ok {
			p.usages = usagesOf(o)
		}
		delete(v.pending, o)
		add(o, p.usages)
	}
	i := 0
	for _, o := range v.sorted {
		if !keep[o] {
			continue
		}
		ns, name := meta(o)
		for ; i < len(fresh); i++ {
			fns, fname := meta(fresh[i])
			if fns > ns || (fns == ns && fname >= name) {
				break
			}
			addFresh(fresh[i])
		}
		add(o, v.usages[o])
	}
	for ; i < len(fresh); i++ {
		addFresh(fresh[i])
	}
	v.sorted, v.usages, v.flat = sorted, usages, flat
	return sorted, flat, nil
}

// prune drops the usages whose object was replaced or deleted before any
// fill met it. Those recorded since the last fill may belong to an object
// the cache is storing right now: they wait one more fill.
func (v *watchView[PT]) prune() {
	for o, p := range v.pending {
		if p.gen+1 < v.gen {
			delete(v.pending, o)
		}
	}
}
