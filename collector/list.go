package collector

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/upgate-dev/upgate/inventory"
)

// resource is one list the collector makes, and the informer Watch keeps
// of the same kind.
type resource struct {
	// name is the resource as RBAC and kubectl spell it, e.g.
	// "poddisruptionbudgets.policy", so an error says what to grant.
	name string
	// kind and apiVersion are the objects' kind and the version listed.
	kind, apiVersion string
	collect          func(ctx context.Context, c *Collector, inv *inventory.Inventory, mu *sync.Mutex) error
	// watch builds the kind's informer (watch.go).
	watch func(c *Collector) *watched
}

// object is a pointer to a typed Kubernetes object.
type object[T any] interface {
	*T
	metav1.Object
	runtime.Object
}

// list is a typed list, such as *corev1.PodList.
type list interface {
	metav1.ListInterface
	runtime.Object
}

// client is the typed client of one kind, such as CoreV1().Pods(""):
// what both a list and an informer need.
type client[L list] interface {
	List(context.Context, metav1.ListOptions) (L, error)
	Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
}

// kept is what the inventory keeps of an object of the kind: the scrubbed
// API object itself, or the model's own type (a pod's inventory.Pod).
type kept interface {
	comparable
	metav1.Object
}

// lister pages through one typed list, keeping of each object its model M.
type lister[T any, PT object[T], L list, M kept] struct {
	name       string
	apiVersion string // the version served, recorded as each object's usage
	kind       string
	client     client[L]
	items      func(L) []T
	// keep turns a listed or watched object into what the inventory
	// keeps of it; it may change the object.
	keep func(PT) M
	set  func(*inventory.Inventory, []M)
}

// listOf is a kind kept as its scrubbed API objects.
func listOf[T any, PT object[T], L list](
	name, apiVersion, kind string,
	cl client[L],
	items func(L) []T,
	set func(*inventory.Inventory, []PT),
) resource {
	return modelOf(name, apiVersion, kind, cl, items, func(o PT) PT { scrub(o); return o }, set)
}

// modelOf is a kind kept as a model of its own (keep builds it).
func modelOf[T any, PT object[T], L list, M kept](
	name, apiVersion, kind string,
	cl client[L],
	items func(L) []T,
	keep func(PT) M,
	set func(*inventory.Inventory, []M),
) resource {
	l := lister[T, PT, L, M]{name: name, apiVersion: apiVersion, kind: kind, client: cl, items: items, keep: keep, set: set}
	return resource{name: name, kind: kind, apiVersion: apiVersion, collect: l.collect, watch: l.watch}
}

// collect reads every page, recording each object's API usages and then
// scrubbing it before the next page is requested, so only scrubbed objects
// are ever held: never a whole raw list. Results reach inv only once the
// list is complete, under mu.
func (l lister[T, PT, L, M]) collect(ctx context.Context, c *Collector, inv *inventory.Inventory, mu *sync.Mutex) error {
	start := time.Now()
	var (
		all       []M
		usages    inventory.Inventory // only its APIUsages are used
		pages     int
		restarted bool
	)
	opts := metav1.ListOptions{Limit: c.opts.PageSize}
	for {
		page, err := l.page(ctx, c, opts)
		if err != nil {
			if opts.Continue != "" && !restarted && isExpired(err) {
				// The continue token outlived etcd's compaction window. The
				// pages read so far belong to an older snapshot, so mixing
				// them with a new one could miss or double objects: start
				// over, once, as client-go's pager does.
				restarted = true
				all, usages, pages, opts.Continue = nil, inventory.Inventory{}, 0, ""
				continue
			}
			return newError("list "+l.name, err, "list")
		}
		pages++
		items := l.items(page)
		if all == nil {
			all = make([]M, 0, len(items)+remaining(page))
		}
		for i := range items {
			o := PT(&items[i])
			meta := metav1.ObjectMeta{
				Namespace: o.GetNamespace(), Name: o.GetName(),
				Annotations: o.GetAnnotations(), ManagedFields: o.GetManagedFields(),
			}
			usages.RecordUsages("", l.apiVersion, l.kind, &meta)
			all = append(all, l.keep(o))
		}
		if opts.Continue = page.GetContinue(); opts.Continue == "" {
			break
		}
	}
	mu.Lock()
	l.set(inv, all)
	inv.APIUsages = append(inv.APIUsages, usages.APIUsages...)
	mu.Unlock()
	c.out.printf("listed %d %s (%s, %s)", len(all), l.name, plural(pages, "page"), time.Since(start).Round(time.Millisecond))
	return nil
}

func (l lister[T, PT, L, M]) page(ctx context.Context, c *Collector, opts metav1.ListOptions) (L, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	return l.client.List(ctx, opts)
}

// isExpired is the API server's answer to a continue token that is too
// old (410 Gone with reason Expired).
func isExpired(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}

// remaining is the server's estimate of the items still to come, used only
// to size the result once; a missing or implausible one is ignored.
func remaining(l metav1.ListInterface) int {
	const most = 1 << 20
	n := l.GetRemainingItemCount()
	if n == nil || *n < 0 || *n > most {
		return 0
	}
	return int(*n)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// scrub is inventory.Scrub, which keeps of each kind what the checks read,
// keeping besides the resourceVersion, which the watch reads
// (sameVersion: a relist's unchanged objects are no change) and snapshots
// never write.
func scrub(o metav1.Object) {
	rv := o.GetResourceVersion()
	inventory.Scrub(o)
	o.SetResourceVersion(rv)
}
