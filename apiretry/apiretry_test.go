package apiretry

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func fast(budget time.Duration) Policy {
	return Policy{Budget: budget, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}
}

// TestRetriesWhatTheServerDidNotServe: a 503 while the API server starts
// is retried for every verb, and the body is sent again whole.
func TestRetriesWhatTheServerDidNotServe(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut} {
		t.Run(method, func(t *testing.T) {
			var calls atomic.Int32
			var lastBody atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				lastBody.Store(string(b))
				if calls.Add(1) <= 3 {
					http.Error(w, "apiserver is starting", http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()
			var heard []string
			p := fast(5 * time.Second)
			p.OnRetry = func(_ *http.Request, attempt int, reason string) { heard = append(heard, reason) }
			c := &http.Client{Transport: Wrap(http.DefaultTransport, p)}
			req, _ := http.NewRequest(method, srv.URL, strings.NewReader(`{"a":1}`))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || calls.Load() != 4 {
				t.Fatalf("status %d after %d calls, want 200 after 4", resp.StatusCode, calls.Load())
			}
			if got := lastBody.Load(); got != `{"a":1}` {
				t.Errorf("the retried request carried %q, want the whole body", got)
			}
			if len(heard) != 3 || !strings.Contains(heard[0], "503") {
				t.Errorf("OnRetry heard %q, want three 503s", heard)
			}
		})
	}
}

// TestRidesOutAnAPIServerThatIsAway: connection refused until the server
// comes back on the same address, as a restarted kube-apiserver does.
func TestRidesOutAnAPIServerThatIsAway(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connections are refused
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	defer srv.Close()
	go func() {
		time.Sleep(150 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
			return
		}
		_ = srv.Serve(l)
	}()
	c := &http.Client{Transport: Wrap(&http.Transport{}, fast(10*time.Second))}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/namespaces/x/pods/y/eviction", strings.NewReader("{}"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("the request did not outlive the absence: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("body %q, want ok", b)
	}
}

// TestNeverResendsAWriteWhoseFateIsUnknown: a POST whose connection broke
// after it was sent may have been applied; the error goes back as is.
// A GET cut the same way is read again.
func TestNeverResendsAWriteWhoseFateIsUnknown(t *testing.T) {
	for _, tc := range []struct {
		method    string
		wantCalls int32
		wantErr   bool
	}{
		{http.MethodPost, 1, true},
		{http.MethodGet, 2, false},
	} {
		t.Run(tc.method, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close() // sent, then the connection broke
					}
					return
				}
				io.WriteString(w, "ok")
			}))
			defer srv.Close()
			c := &http.Client{Transport: Wrap(&http.Transport{}, fast(5*time.Second))}
			req, _ := http.NewRequest(tc.method, srv.URL, strings.NewReader("{}"))
			resp, err := c.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			if (err != nil) != tc.wantErr || calls.Load() != tc.wantCalls {
				t.Fatalf("err %v after %d calls; want error %v after %d", err, calls.Load(), tc.wantErr, tc.wantCalls)
			}
		})
	}
}

// TestGivesUpWithinItsBudgetAndItsContext: a server that stays away is
// reported, not waited on forever; a cancelled request stops at once.
func TestGivesUpWithinItsBudgetAndItsContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c := &http.Client{Transport: Wrap(http.DefaultTransport, fast(100*time.Millisecond))}
	start := time.Now()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want the last 503", resp.StatusCode)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("kept retrying for %s on a 100ms budget", time.Since(start))
	}

	ctx, cancel := context.WithCancel(context.Background())
	c = &http.Client{Transport: Wrap(http.DefaultTransport, Policy{Budget: time.Hour, Initial: time.Minute})}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := c.Do(req); err == nil || ctx.Err() == nil {
		t.Fatalf("a cancelled request returned %v", err)
	}
}

// TestZeroBudgetDoesNotWrap: retrying is opt-in.
func TestZeroBudgetDoesNotWrap(t *testing.T) {
	if rt := Wrap(http.DefaultTransport, Policy{}); rt != http.DefaultTransport {
		t.Errorf("Wrap with no budget returned %T", rt)
	}
}
