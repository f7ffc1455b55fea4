package collector

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/upgate-dev/upgate/inventory"
)

// withProxy is a fake clientset whose core REST client (the node proxy's)
// and non-resource REST client are real ones served by an httptest server.
type withProxy struct {
	withREST
	core rest.Interface
}

func (w withProxy) CoreV1() typedcorev1.CoreV1Interface {
	return coreWithREST{w.Clientset.CoreV1(), w.core}
}

type coreWithREST struct {
	typedcorev1.CoreV1Interface
	rc rest.Interface
}

func (c coreWithREST) RESTClient() rest.Interface { return c.rc }

const summaryWorker1 = `{"node":{"nodeName":"worker-1","fs":{"time":"2025-01-01T00:00:00Z","availableBytes":524288000,"capacityBytes":20000000000,"usedBytes":19475712000}},"pods":[]}`

// statsServer plays the API server's node proxy: each node answers in its
// own way. It records how many summaries were asked for at once.
func statsServer(t *testing.T) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	inflight, most := 0, new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node, ok := strings.CutPrefix(r.URL.Path, "/api/v1/nodes/")
		node, ok2 := strings.CutSuffix(node, "/proxy/stats/summary")
		if !ok || !ok2 {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		inflight++
		*most = max(*most, inflight)
		mu.Unlock()
		defer func() { mu.Lock(); inflight--; mu.Unlock() }()
		time.Sleep(20 * time.Millisecond) // let the others overlap
		switch node {
		case "worker-1":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(summaryWorker1))
		case "worker-2":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"nodes \"worker-2\" is forbidden: User \"checker\" cannot get resource \"nodes/proxy\"","reason":"Forbidden","details":{"name":"worker-2","kind":"nodes"},"code":403}`))
		case "worker-3":
			http.NotFound(w, r) // a kubelet stand-in without the Summary API
		case "worker-4":
			_, _ = w.Write([]byte(`<html>not a summary</html>`))
		case "worker-5":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case "worker-8":
			// What the API server says when it will not proxy to a node's
			// address (a loopback one, in the local cluster).
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"address not allowed","reason":"BadRequest","code":400}`))
		case "worker-9":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("dial tcp 192.0.2.1:10250: connect: connection refused\n"))
		case "worker-6":
			_, _ = w.Write([]byte(`{"node":{"nodeName":"worker-6"}}`))
		default:
			_, _ = w.Write([]byte(`{"node":{"fs":{"availableBytes":50000000000,"capacityBytes":100000000000}}}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, most
}

func newProxyFake(t *testing.T, srv *httptest.Server, objs ...runtime.Object) kubernetes.Interface {
	t.Helper()
	real, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return withProxy{withREST{newFake(objs...), real.Discovery().RESTClient()}, real.CoreV1().RESTClient()}
}

func nodes(names ...string) []runtime.Object {
	var objs []runtime.Object
	for _, n := range names {
		objs = append(objs, &corev1.Node{ObjectMeta: objMeta("", n)})
	}
	return objs
}

func TestCollectReadsNodeStats(t *testing.T) {
	srv, most := statsServer(t)
	names := []string{"worker-1", "worker-2", "worker-3", "worker-4", "worker-5", "worker-6", "worker-7", "worker-8", "worker-9"}
	c := NewForClient(newProxyFake(t, srv, nodes(names...)...),
		Options{NodeStats: true, NodeStatsConcurrency: 3, NodeStatsTimeout: 300 * time.Millisecond})
	inv, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.NodeStats) != len(names) {
		t.Fatalf("NodeStats = %+v, want one per node", inv.NodeStats)
	}
	by := map[string]inventory.NodeStat{}
	for i, s := range inv.NodeStats {
		if s.Node != names[i] {
			t.Errorf("NodeStats[%d] is %s, want %s (node order)", i, s.Node, names[i])
		}
		by[s.Node] = s
	}
	if s := by["worker-1"]; !s.Read() || *s.AvailableBytes != 524288000 || s.CapacityBytes == nil || *s.CapacityBytes != 20000000000 {
		t.Errorf("worker-1: %+v, want 524288000 of 20000000000 bytes free", s)
	}
	if s := by["worker-7"]; !s.Read() || *s.AvailableBytes != 50000000000 {
		t.Errorf("worker-7: %+v", s)
	}
	for node, want := range map[string]string{
		"worker-2": "forbidden: reading it needs get on nodes/proxy",
		"worker-3": "not found: the kubelet (or what stands in for it) does not serve /stats/summary",
		"worker-4": "not a stats summary",
		"worker-5": "no answer within 300ms",
		"worker-6": "the stats summary gives no node.fs.availableBytes",
		"worker-8": "HTTP 400: address not allowed",
		"worker-9": "HTTP 502: dial tcp 192.0.2.1:10250: connect: connection refused",
	} {
		s := by[node]
		if s.Read() || s.AvailableBytes != nil || !strings.HasPrefix(s.Error, want) {
			t.Errorf("%s: %+v, want no bytes and an error starting %q", node, s, want)
		}
	}
	if *most > 3 {
		t.Errorf("%d summaries asked for at once, want at most 3", *most)
	}
	var warned bool
	for _, w := range c.Warnings() {
		if strings.Contains(w, "kubelet stats summary not read on 7 of 9 nodes (worker-2: forbidden") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("warnings %q do not say the summaries were not read", c.Warnings())
	}
}

// Without Options.NodeStats the node proxy is never asked: the checker's
// RBAC has no nodes/proxy.
func TestCollectSkipsNodeStatsUnlessAsked(t *testing.T) {
	var asked bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/proxy/") {
			asked = true
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	inv, err := NewForClient(newProxyFake(t, srv, nodes("worker-1")...), Options{}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if asked || inv.NodeStats != nil {
		t.Errorf("node proxy asked %t, NodeStats %+v; want neither", asked, inv.NodeStats)
	}
}

// A client that cannot reach the node proxy (client-go's fake) records why
// for every node instead of failing the collection.
func TestCollectNodeStatsWithoutRESTClient(t *testing.T) {
	inv, err := NewForClient(newFake(nodes("a", "b")...), Options{NodeStats: true}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.NodeStats) != 2 {
		t.Fatalf("NodeStats = %+v", inv.NodeStats)
	}
	for _, s := range inv.NodeStats {
		if s.Read() || !strings.Contains(s.Error, "no REST client") {
			t.Errorf("%+v, want the reason it was not read", s)
		}
	}
}

func TestParseStatsSummary(t *testing.T) {
	for _, tc := range []struct {
		body, err string
		free      uint64
	}{
		{body: summaryWorker1, free: 524288000},
		{body: `{"node":{"fs":{"availableBytes":0}}}`, free: 0},
		{body: `{"node":{"fs":{}}}`, err: "no node.fs.availableBytes"},
		{body: `{}`, err: "no node.fs.availableBytes"},
		{body: `{"node":{"fs":{"availableBytes":-1}}}`, err: "not a stats summary"},
		{body: ``, err: "not a stats summary"},
	} {
		var st inventory.NodeStat
		err := parseStatsSummary([]byte(tc.body), &st)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err %v, want %q", tc.body, err, tc.err)
		case tc.err == "" && (err != nil || st.AvailableBytes == nil || *st.AvailableBytes != tc.free):
			t.Errorf("%s: %+v, %v; want %d bytes free", tc.body, st, err, tc.free)
		}
	}
}

func TestNodeStatsOptions(t *testing.T) {
	if err := (Options{NodeStatsConcurrency: -1}).validate(); err == nil {
		t.Error("negative node stats concurrency accepted")
	}
	if err := (Options{NodeStatsTimeout: -time.Second}).validate(); err == nil {
		t.Error("negative node stats timeout accepted")
	}
	o := Options{}.withDefaults()
	if o.NodeStatsConcurrency != 16 || o.NodeStatsTimeout != 5*time.Second {
		t.Errorf("defaults %d, %s; want 16, 5s", o.NodeStatsConcurrency, o.NodeStatsTimeout)
	}
}
