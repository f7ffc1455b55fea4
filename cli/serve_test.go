package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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
