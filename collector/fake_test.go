package collector

import (
	"cmp"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

const testVersion = "v1.35.2"

// newFake is a fake clientset holding objs whose /version says testVersion.
func newFake(objs ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset(objs...)
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: testVersion}
	return cs
}

// withREST gives a fake clientset a real REST client for non-resource
// paths (/metrics), served by srv: client-go's fake has none.
type withREST struct {
	*fake.Clientset
	rc rest.Interface
}

func (w withREST) Discovery() discovery.DiscoveryInterface {
	return discoveryWithREST{w.Clientset.Discovery(), w.rc}
}

type discoveryWithREST struct {
	discovery.DiscoveryInterface
	rc rest.Interface
}

func (d discoveryWithREST) RESTClient() rest.Interface { return d.rc }

func newFakeWithServer(t *testing.T, srv *httptest.Server, objs ...runtime.Object) kubernetes.Interface {
	t.Helper()
	real, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return withREST{newFake(objs...), real.Discovery().RESTClient()}
}

// pager makes the fake honour Limit and Continue for one resource, as the
// API server does (the fake returns everything at once), and records the
// options of each call. expire names continue tokens answered once with
// 410 Expired.
type pager struct {
	mu     sync.Mutex
	calls  []metav1.ListOptions
	expire map[string]bool
}

func paginate(t *testing.T, cs *fake.Clientset, resource string, expire ...string) *pager {
	t.Helper()
	p := &pager{expire: map[string]bool{}}
	for _, tok := range expire {
		p.expire[tok] = true
	}
	cs.PrependReactor("list", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		la := a.(k8stesting.ListActionImpl)
		opts := la.ListOptions
		p.mu.Lock()
		p.calls = append(p.calls, opts)
		expired := p.expire[opts.Continue]
		delete(p.expire, opts.Continue)
		p.mu.Unlock()
		if expired {
			return true, nil, apiExpired()
		}
		obj, err := cs.Tracker().List(la.Resource, la.Kind, la.Namespace)
		if err != nil {
			return true, nil, err
		}
		items, err := meta.ExtractList(obj)
		if err != nil {
			return true, nil, err
		}
		slices.SortFunc(items, func(a, b runtime.Object) int {
			ma, mb := a.(metav1.Object), b.(metav1.Object)
			return cmp.Or(cmp.Compare(ma.GetNamespace(), mb.GetNamespace()), cmp.Compare(ma.GetName(), mb.GetName()))
		})
		start := 0
		if opts.Continue != "" {
			if start, err = strconv.Atoi(opts.Continue); err != nil {
				t.Errorf("continue token %q is not one this fake issued", opts.Continue)
				return true, nil, err
			}
		}
		end := len(items)
		if opts.Limit > 0 && start+int(opts.Limit) < end {
			end = start + int(opts.Limit)
		}
		if err := meta.SetList(obj, items[start:end]); err != nil {
			return true, nil, err
		}
		l := obj.(metav1.ListInterface)
		if end < len(items) {
			l.SetContinue(strconv.Itoa(end))
			left := int64(len(items) - end)
			l.SetRemainingItemCount(&left)
		}
		return true, obj, nil
	})
	return p
}

func (p *pager) continues() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, o := range p.calls {
		out = append(out, o.Continue)
	}
	return out
}
