package collector

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/upgate-dev/upgate/inventory"
)

// metricsText is trimmed from a 1.36 API server's /metrics, with a
// beta API turned on and used, plus lines that must not confuse the parser.
const metricsText = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",group="",resource="pods",scope="cluster",subresource="",verb="LIST",version="v1"} 12
# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs that have been requested, broken out by API group, version, resource, subresource, and removed_release.
# TYPE apiserver_requested_deprecated_apis gauge
apiserver_requested_deprecated_apis{group="",removed_release="",resource="endpoints",subresource="",version="v1"} 1
apiserver_requested_deprecated_apis{group="storage.k8s.io",removed_release="1.37",resource="csistoragecapacities",subresource="",version="v1beta1"} 1
apiserver_requested_deprecated_apis{group="coordination.k8s.io",removed_release="1.39",resource="leases",subresource="status",version="v1beta1"} 1
# HELP apiserver_requested_deprecated_apis_extra a made-up family sharing the prefix
# TYPE apiserver_requested_deprecated_apis_extra gauge
apiserver_requested_deprecated_apis_extra{group="nope",version="v0",resource="x"} 1
# HELP etcd_request_duration_seconds [ALPHA] Etcd request latency in seconds for each operation and object type.
# TYPE etcd_request_duration_seconds histogram
etcd_request_duration_seconds_bucket{operation="get",type="pods",le="0.005"} 3
etcd_request_duration_seconds_bucket{operation="get",type="pods",le="+Inf"} 4
etcd_request_duration_seconds_sum{operation="get",type="pods"} 0.01
etcd_request_duration_seconds_count{operation="get",type="pods"} 4
`

var wantRequests = []inventory.DeprecatedRequest{
	{Group: "", Version: "v1", Resource: "endpoints"},
	{Group: "coordination.k8s.io", Version: "v1beta1", Resource: "leases", Subresource: "status", RemovedRelease: "1.39"},
	{Group: "storage.k8s.io", Version: "v1beta1", Resource: "csistoragecapacities", RemovedRelease: "1.37"},
}

func TestParseDeprecated(t *testing.T) {
	got, err := parseDeprecated(strings.NewReader(metricsText))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, wantRequests) {
		t.Errorf("got\n%+v\nwant\n%+v", got, wantRequests)
	}
}

func TestParseDeprecatedAbsentOrMalformed(t *testing.T) {
	got, err := parseDeprecated(strings.NewReader("# TYPE up gauge\nup 1\n"))
	if err != nil || got != nil {
		t.Errorf("no deprecated requests: got %v, %v; want nil, nil", got, err)
	}
	_, err = parseDeprecated(strings.NewReader(`apiserver_requested_deprecated_apis{group="x" 1` + "\n"))
	if err == nil {
		t.Error("a malformed series parsed")
	}
}

// metricsServer serves /metrics with status and body, recording the Accept
// header it was asked with.
func metricsServer(t *testing.T, status int, body string, delay time.Duration) (*httptest.Server, *string) {
	t.Helper()
	accept := new(string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		*accept = r.Header.Get("Accept")
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, accept
}

func TestCollectReadsDeprecatedRequests(t *testing.T) {
	srv, accept := metricsServer(t, http.StatusOK, metricsText, 0)
	c := NewForClient(newFakeWithServer(t, srv), Options{})
	inv, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inv.DeprecatedRequests, wantRequests) {
		t.Errorf("DeprecatedRequests = %+v", inv.DeprecatedRequests)
	}
	if !strings.HasPrefix(*accept, "text/plain") {
		t.Errorf("asked /metrics for %q, want the text format", *accept)
	}
	if w := c.Warnings(); w != nil {
		t.Errorf("warnings = %q, want none", w)
	}
	if want := []string{srv.URL}; !slices.Equal(inv.Sources, want) {
		t.Errorf("Sources = %q, want %q", inv.Sources, want)
	}
}

func TestCollectWarnsWhenMetricsForbidden(t *testing.T) {
	srv, _ := metricsServer(t, http.StatusForbidden, `forbidden: User "checker" cannot get path "/metrics"`, 0)
	c := NewForClient(newFakeWithServer(t, srv, pods(1)...), Options{})
	inv, err := c.Collect(t.Context())
	if err != nil {
		t.Fatalf("a forbidden /metrics failed the collection: %v", err)
	}
	if len(inv.Pods) != 1 || inv.DeprecatedRequests != nil {
		t.Errorf("inventory: %d pods, deprecated requests %v", len(inv.Pods), inv.DeprecatedRequests)
	}
	w := c.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "get /metrics") || !strings.Contains(w[0], "RBAC needs get on it") {
		t.Errorf("warnings = %q, want one naming /metrics and the RBAC needed", w)
	}
	// The public method still reports the failure as it is.
	if _, err := c.DeprecatedRequests(t.Context()); !errors.Is(err, ErrCollect) || !apierrors.IsForbidden(err) {
		t.Errorf("DeprecatedRequests err = %v, want ErrCollect wrapping Forbidden", err)
	}
}

func TestCollectWarnsWithoutRESTClient(t *testing.T) {
	c := NewForClient(newFake(), Options{})
	if _, err := c.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "no REST client") {
		t.Errorf("warnings = %q", w)
	}
}

func TestCollectFailsOnMetricsServerError(t *testing.T) {
	srv, _ := metricsServer(t, http.StatusInternalServerError, "etcd is down", 0)
	inv, err := NewForClient(newFakeWithServer(t, srv), Options{}).Collect(t.Context())
	if inv != nil || !errors.Is(err, ErrCollect) || !strings.HasPrefix(err.Error(), "get /metrics: ") {
		t.Errorf("Collect = %v, %v; want no inventory and a /metrics ErrCollect", inv, err)
	}
}

func TestDeprecatedRequestsTimeout(t *testing.T) {
	srv, _ := metricsServer(t, http.StatusOK, metricsText, 10*time.Second)
	c := NewForClient(newFakeWithServer(t, srv), Options{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := c.DeprecatedRequests(t.Context())
	if !errors.Is(err, ErrCollect) || !strings.Contains(err.Error(), "did not answer in time") {
		t.Errorf("err = %v, want an ErrCollect timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s despite a 50ms timeout", d)
	}
}
