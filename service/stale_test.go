package service

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upgate-dev/upgate/finding"
)

// clock is a settable time for the staleness bounds; check timeouts still
// run on the real clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func passed() *finding.Report {
	return finding.New(finding.PhasePreflight, "v1.35.2", "v1.36", nil,
		finding.Input{Source: "cluster"}, finding.Producer{UpgateVersion: "test"}, time.Unix(1700000000, 0))
}

func serve(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func checkUp(t *testing.T, h http.Handler) string {
	t.Helper()
	for _, l := range strings.Split(serve(t, h, "/metrics").Body.String(), "\n") {
		if v, ok := strings.CutPrefix(l, "upgate_check_up "); ok {
			return v
		}
	}
	t.Fatal("no upgate_check_up in /metrics")
	return ""
}

// A check that hangs on an API server that never answers fails at the
// check timeout: check_up 0, /readyz and /report 503 naming the timeout.
// Before: no timeout applied, /readyz stayed 200 and check_up 1.
func TestHangingCheckFailsAtItsTimeout(t *testing.T) {
	var hang bool
	s, err := New(func(ctx context.Context) (*finding.Report, error) {
		if hang {
			<-ctx.Done() // as client-go does with a request that gets no answer
			return nil, ctx.Err()
		}
		return passed(), nil
	}, Options{CheckTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	s.RunOnce(context.Background())
	if up := checkUp(t, h); up != "1" {
		t.Fatalf("check_up after a pass = %s", up)
	}
	hang = true
	start := time.Now()
	s.RunOnce(context.Background())
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a hanging check took %s to fail, want about its 50ms timeout", d)
	}
	if up := checkUp(t, h); up != "0" {
		t.Errorf("check_up after a timed-out check = %s, want 0", up)
	}
	for _, path := range []string{"/readyz", "/report"} {
		rec := serve(t, h, path)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "did not finish within its 50ms timeout") {
			t.Errorf("%s after a timed-out check = %d %q, want 503 naming the timeout", path, rec.Code, rec.Body.String())
		}
	}
	// The loop itself is alive: restarting the pod would not help.
	if rec := serve(t, h, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("/healthz while checks time out = %d %q, want 200", rec.Code, rec.Body.String())
	}
}

// A check that ignores its deadline is abandoned at the timeout; no second
// one starts beside it, and /healthz fails once it has been stuck past the
// staleness bound, so the kubelet restarts the pod.
func TestCheckIgnoringItsDeadlineFailsLiveness(t *testing.T) {
	clk := &clock{t: time.Unix(1800000000, 0)}
	release := make(chan struct{})
	var calls int
	var mu sync.Mutex
	s, err := New(func(context.Context) (*finding.Report, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		<-release
		return passed(), nil
	}, Options{Interval: time.Minute, CheckTimeout: 20 * time.Millisecond, now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	s.RunOnce(context.Background())
	if rec := serve(t, h, "/readyz"); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "timeout") {
		t.Errorf("/readyz = %d %q", rec.Code, rec.Body.String())
	}
	clk.Add(time.Minute)
	s.RunOnce(context.Background())
	if rec := serve(t, h, "/readyz"); !strings.Contains(rec.Body.String(), "has not returned") {
		t.Errorf("/readyz while the first check is still stuck = %q", rec.Body.String())
	}
	mu.Lock()
	if calls != 1 {
		t.Errorf("%d evaluations ran, want 1: none may start beside a stuck one", calls)
	}
	mu.Unlock()
	if rec := serve(t, h, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("/healthz within the bound = %d", rec.Code)
	}
	clk.Add(s.StuckAfter())
	if rec := serve(t, h, "/healthz"); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "stuck") {
		t.Errorf("/healthz with a check stuck past %s = %d %q, want 503", s.StuckAfter(), rec.Code, rec.Body.String())
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for serve(t, h, "/healthz").Code != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/healthz did not recover once the check returned")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// With no successful check for StaleAfter, the last pass is stale: /readyz
// and /report 503, check_up 0, and /report says when the last success was.
func TestStaleReportIsNotServedAsCurrent(t *testing.T) {
	clk := &clock{t: time.Unix(1800000000, 0)}
	s, err := New(func(context.Context) (*finding.Report, error) { return passed(), nil },
		Options{Interval: time.Minute, CheckTimeout: 30 * time.Second, StaleAfterIntervals: 2, now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if s.StaleAfter() != 150*time.Second {
		t.Fatalf("StaleAfter = %s, want 2 intervals plus the check timeout", s.StaleAfter())
	}
	h := s.Handler()
	if rec := serve(t, h, "/readyz"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the first check = %d, want 503", rec.Code)
	}
	s.RunOnce(context.Background())
	clk.Add(s.StaleAfter())
	rec := serve(t, h, "/report")
	if rec.Code != http.StatusOK || rec.Header().Get(HeaderStale) != "false" {
		t.Errorf("/report at the bound = %d %s=%q, want 200 not stale", rec.Code, HeaderStale, rec.Header().Get(HeaderStale))
	}
	clk.Add(time.Second)
	rec = serve(t, h, "/report")
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), `"verdict"`) {
		t.Errorf("stale /report = %d %q, want 503 without the old report", rec.Code, rec.Body.String())
	}
	if rec.Header().Get(HeaderStale) != "true" || rec.Header().Get(HeaderLastSuccess) != "2027-01-15T08:00:00Z" ||
		!strings.Contains(rec.Header().Get("Warning"), "110") {
		t.Errorf("stale /report headers = %v, want %s: true, %s and a 110 Warning", rec.Header(), HeaderStale, HeaderLastSuccess)
	}
	if !strings.Contains(rec.Body.String(), "no check has succeeded for 2m31s") || !strings.Contains(rec.Body.String(), "last successful check at 2027-01-15T08:00:00Z") {
		t.Errorf("stale /report body = %q", rec.Body.String())
	}
	if rec := serve(t, h, "/readyz"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz when stale = %d, want 503", rec.Code)
	}
	if up := checkUp(t, h); up != "0" {
		t.Errorf("check_up when stale = %s, want 0", up)
	}
	// Stale is not yet stuck: /healthz allows twice as long.
	if rec := serve(t, h, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("/healthz = %d", rec.Code)
	}
	s.RunOnce(context.Background())
	if rec := serve(t, h, "/report"); rec.Code != http.StatusOK {
		t.Errorf("/report after a new success = %d", rec.Code)
	}
}

// After a pass, a check that fails (the API server answers 503) makes
// /report 503 with the failure, never a 200 with the old pass; the old
// report stays at its digest address, marked stale.
func TestFailedCheckIsNotHiddenBehindTheLastPass(t *testing.T) {
	var fail error
	s, err := New(func(context.Context) (*finding.Report, error) { return passed(), fail }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	s.RunOnce(context.Background())
	ok := serve(t, h, "/report")
	digest := ok.Header().Get(HeaderDigest)
	if ok.Code != http.StatusOK || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("/report = %d digest %q", ok.Code, digest)
	}
	fail = errors.New(`listing nodes: the server is currently unable to handle the request (get nodes)`)
	s.RunOnce(context.Background())
	rec := serve(t, h, "/report")
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, "unable to handle the request") ||
		strings.Contains(body, `"verdict"`) || rec.Header().Get(HeaderStale) != "true" {
		t.Errorf("/report after a failed check = %d %s=%q %q, want 503 naming the failure, not the old pass",
			rec.Code, HeaderStale, rec.Header().Get(HeaderStale), body)
	}
	if !strings.Contains(body, "reports/sha256-"+strings.TrimPrefix(digest, "sha256:")+".json") {
		t.Errorf("/report after a failed check does not point at the last good report: %q", body)
	}
	old := serve(t, h, "/reports/sha256-"+strings.TrimPrefix(digest, "sha256:")+".json")
	if old.Code != http.StatusOK || old.Body.String() != ok.Body.String() || old.Header().Get(HeaderStale) != "true" {
		t.Errorf("the last good report by digest = %d %s=%q, want 200, the same bytes, marked stale", old.Code, HeaderStale, old.Header().Get(HeaderStale))
	}
	if up := checkUp(t, h); up != "0" {
		t.Errorf("check_up = %s", up)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	eval := func(context.Context) (*finding.Report, error) { return passed(), nil }
	for _, o := range []Options{{StaleAfterIntervals: 1}, {StaleAfterIntervals: -1}, {CheckTimeout: -time.Second}} {
		if _, err := New(eval, o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	s, err := New(eval, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := 3*DefaultInterval + DefaultCheckTimeout; s.StaleAfter() != want {
		t.Errorf("default StaleAfter = %s, want %s", s.StaleAfter(), want)
	}
}
