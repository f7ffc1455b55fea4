package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	k8stesting "k8s.io/client-go/testing"
)

// fakeKubeconfig points kubectl's flags at a test API server.
func fakeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: %q}}]
users: [{name: fake, user: {token: test}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
`, server)
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// inProcessServe is `upgate serve` run in the test's process.
type inProcessServe struct {
	addr   string
	stderr *syncBuffer
}

// startServe runs `upgate serve ARGS --listen ADDR` (a free loopback
// address) through mainWith with seams s. When the test ends it is
// stopped as a signal stops it (its context cancelled) and must exit 0
// within 10 s.
func startServe(t *testing.T, s seams, args ...string) *inProcessServe {
	t.Helper()
	srv := &inProcessServe{addr: freeAddr(t), stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	argv := append(append([]string{"upgate", "serve"}, args...), "--listen", srv.addr)
	go func() { done <- mainWith(ctx, argv, strings.NewReader(""), io.Discard, srv.stderr, s) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d: %s", code, srv.stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return srv
}

// get fetches path: the status and the body (the error, with status 0,
// when serve cannot be reached).
func (s *inProcessServe) get(path string) (int, string) {
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// syncBuffer is stderr written by serve while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// upgate serve against an API server that hangs or answers 503: the check
// fails (by the --check-timeout the chart passes, for a hang), check_up is
// 0, and /readyz and /report are 503 naming the failure. Before, a hang
// kept /readyz 200 and check_up 1: no check timeout applied.
func TestServeFailsClosedOnABrokenAPIServer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, "did not finish within its 1s timeout"},
		{"503", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "etcdserver: leader changed", http.StatusServiceUnavailable)
		}, "last check failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := httptest.NewServer(tc.handler)
			t.Cleanup(api.Close)
			srv := startServe(t, seams{}, "--kubeconfig", fakeKubeconfig(t, api.URL),
				"--target", "v1.36", "--check-timeout", "1s", "--interval", "1h")
			// Cleanups run last first: the hanging API server lets go of
			// serve's requests before serve is stopped, then is closed.
			t.Cleanup(api.CloseClientConnections)
			get, stderr := srv.get, srv.stderr
			deadline := time.Now().Add(30 * time.Second)
			for {
				code, body := get("/readyz")
				if code == http.StatusServiceUnavailable && strings.Contains(body, tc.want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/readyz = %d %q, want 503 with %q; serve's stderr:\n%s", code, body, tc.want, stderr.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			if code, body := get("/report"); code != http.StatusServiceUnavailable || !strings.Contains(body, tc.want) {
				t.Errorf("/report = %d %q", code, body)
			}
			if _, metrics := get("/metrics"); !strings.Contains(metrics, "upgate_check_up 0") ||
				!strings.Contains(metrics, `upgate_check_runs_total{result="error"} 1`) {
				t.Errorf("/metrics does not show the failed check:\n%s", metrics)
			}
			if code, _ := get("/healthz"); code != http.StatusOK {
				t.Errorf("/healthz = %d: a broken API server is no reason to restart", code)
			}
		})
	}
}

func TestServeSettings(t *testing.T) {
	if code, _, stderr := run(t, "", "serve", "--target", "v1.36", "--from", "testdata/cluster.yaml", "--stale-after-intervals", "1"); code != ExitBadInput || !strings.Contains(stderr, "at least 2") {
		t.Errorf("--stale-after-intervals 1: exit %d %q, want 2", code, stderr)
	}
	code, out, _ := run(t, "", "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help: exit %d", code)
	}
	for _, want := range []string{`(default "127.0.0.1:8080")`, "--check-timeout duration", "(default 3m0s)", "--stale-after-intervals int", "/reports/sha256-"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

// upgate serve on the live cluster lists every kind once, then reads its
// watch: a Deployment of one replica created after the first check is in
// the report and /metrics after the --debounce, with an --interval of an
// hour, and gone again after it is deleted; no check lists anything.
func TestServeWatchesTheClusterAndChecksOnChange(t *testing.T) {
	cs := fakeCluster(t)
	var mu sync.Mutex
	var lists []string
	cs.PrependReactor("list", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		lists = append(lists, a.GetResource().Resource)
		return false, nil, nil
	})
	listed := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(lists) }
	srv := startServe(t, seams{clientset: func() (kubernetes.Interface, error) { return cs, nil }},
		"--target", "v1.36", "--interval", "1h", "--debounce", "100ms")
	singleton := `upgate_findings{check="safety.singleton",severity="block"}`
	// waitFor polls /metrics until ok says the body is what it waits for.
	waitFor := func(what string, ok func(body string) bool) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, body := srv.get("/metrics")
			if ok(body) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30s; serve's stderr:\n%s\n/metrics:\n%s", what, srv.stderr.String(), body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	body := waitFor("the first check", func(body string) bool { return metricValue(body, "upgate_check_up") == 1 })
	if v := metricValue(body, singleton); v != -1 {
		t.Fatalf("%s %v before any singleton was created", singleton, v)
	}
	started := listed()
	seen := map[string]int{}
	for _, r := range started {
		seen[r]++
	}
	for r, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times to start the watch, want once", r, n)
		}
	}
	if seen["pods"] != 1 || seen["nodes"] != 1 || seen["deployments"] != 1 {
		t.Errorf("lists to start the watch: %v, want every kind once", started)
	}

	ctx := t.Context()
	one := int32(1)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "fresh", Name: "lonely"}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
	if _, err := cs.AppsV1().Deployments("fresh").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	body = waitFor("the new singleton", func(body string) bool { return metricValue(body, singleton) == 1 })
	if v := metricValue(body, `upgate_check_triggers_total{trigger="change"}`); v < 1 {
		t.Errorf("upgate_check_triggers_total{trigger=\"change\"} = %v after a change-triggered check", v)
	}
	if v := metricValue(body, `upgate_check_triggers_total{trigger="interval"}`); v != 0 {
		t.Errorf("upgate_check_triggers_total{trigger=\"interval\"} = %v with --interval 1h", v)
	}
	if code, report := srv.get("/report"); code != http.StatusOK || !strings.Contains(report, `"name": "lonely"`) {
		t.Errorf("/report = %d, want the new Deployment fresh/lonely in it:\n%s", code, report)
	}
	if err := cs.AppsV1().Deployments("fresh").Delete(ctx, "lonely", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the singleton's deletion", func(body string) bool {
		return metricValue(body, "upgate_check_up") == 1 && metricValue(body, singleton) == -1
	})
	// The checks read the watch: not one list since it started.
	if now := listed(); len(now) != len(started) {
		t.Errorf("the checks listed %v, want no list after the watch's first (%d)", now[len(started):], len(started))
	}
}

func TestServeDebounceSettings(t *testing.T) {
	code, _, stderr := run(t, "", "serve", "--target", "v1.36", "--from", "testdata/cluster.yaml", "--debounce", "2m", "--debounce-max", "1m")
	if code != ExitBadInput || !strings.Contains(stderr, "--debounce 2m0s is longer than --debounce-max 1m0s") {
		t.Errorf("--debounce over --debounce-max: exit %d %q, want 2", code, stderr)
	}
	code, out, _ := run(t, "", "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help: exit %d", code)
	}
	for _, want := range []string{"--debounce duration", "(default 10s)", "--debounce-max duration", "keeps the state by watching it", "--debounce 0 checks on the interval only"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

// upgate serve fails closed on a broken watch as it does on a failed
// list: once the pods' watch ended and they may no longer be listed, the
// checks fail (check_up 0, /readyz 503 naming the kind) instead of
// passing on the cache; when the pods can be listed again, they pass.
func TestServeFailsClosedOnABrokenWatch(t *testing.T) {
	cs := fakeCluster(t)
	var mu sync.Mutex
	var current *watch.RaceFreeFakeWatcher
	var forbidden bool
	cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		mu.Lock()
		defer mu.Unlock()
		current = watch.NewRaceFreeFake()
		return true, current, nil
	})
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if forbidden {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("RBAC revoked"))
		}
		return false, nil, nil
	})
	srv := startServe(t, seams{clientset: func() (kubernetes.Interface, error) { return cs, nil }},
		"--target", "v1.36", "--interval", "1s", "--debounce", "0")
	waitFor := func(what string, ok func(code int, body, metrics string) bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			code, body := srv.get("/readyz")
			_, metrics := srv.get("/metrics")
			if ok(code, body, metrics) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30s; /readyz %d %s; serve's stderr:\n%s", what, code, body, srv.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("the first check", func(code int, _, metrics string) bool {
		return code == http.StatusOK && metricValue(metrics, "upgate_check_up") == 1
	})
	mu.Lock()
	forbidden = true
	current.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 500, Reason: metav1.StatusReasonInternalError, Message: "watch cache reset"})
	mu.Unlock()
	waitFor("a failed check", func(code int, body, metrics string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "watch pods: ") && strings.Contains(body, "RBAC revoked") &&
			metricValue(metrics, "upgate_check_up") == 0 && metricValue(metrics, `upgate_check_runs_total{result="error"}`) >= 1
	})
	mu.Lock()
	forbidden = false
	mu.Unlock()
	waitFor("a check passing again", func(code int, _, metrics string) bool {
		return code == http.StatusOK && metricValue(metrics, "upgate_check_up") == 1
	})
}
