// Package service is `upgate serve`: a loop that re-evaluates the policies
// on a jittered interval and after changes in the cluster (debounced:
// Options.Changes, schedule.go), keeps the latest report, and serves it
// with Prometheus metrics and health endpoints.
//
// It fails closed in time as well as in content: a check that hangs fails
// at its timeout, and a report older than the staleness bound is not served
// as the current state. /report answers 503 then, naming the failure and
// the time of the last success.
package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	utilclock "k8s.io/utils/clock"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/reports"
)

// EvaluateFunc runs one check and returns its report. It should return
// when ctx ends; one that does not is abandoned at its timeout (see
// Options.CheckTimeout) and no other check starts until it returns.
type EvaluateFunc func(ctx context.Context) (*finding.Report, error)

const (
	// DefaultInterval is used when Options.Interval is zero.
	DefaultInterval = 5 * time.Minute
	// DefaultCheckTimeout is used when Options.CheckTimeout is zero: a
	// live check of 5,000 nodes takes under a minute.
	DefaultCheckTimeout = 3 * time.Minute
	// DefaultStaleAfterIntervals is used when Options.StaleAfterIntervals
	// is zero.
	DefaultStaleAfterIntervals = 3
	// KeptReports is how many of the latest successful reports, with
	// their signatures, stay fetchable by digest at /reports/.
	KeptReports = 16
)

// Headers of /report and the digest-addressed endpoints.
const (
	// HeaderDigest names the report a response carries or signs:
	// "sha256:<hex>" of /report's exact bytes.
	HeaderDigest = "X-Upgate-Report-Digest"
	// HeaderSignature carries the signature of the body in the same
	// response, when reports are signed.
	HeaderSignature = "X-Upgate-Signature"
	// HeaderStale is "true" when the response is not the current state:
	// the last check failed, or none succeeded within the staleness bound.
	HeaderStale = "X-Upgate-Stale"
	// HeaderLastSuccess is the RFC 3339 time the last successful check
	// finished.
	HeaderLastSuccess = "X-Upgate-Last-Success"
)

// Options configure a Server.
type Options struct {
	// Interval between checks; zero means DefaultInterval. Each wait is
	// jittered by up to 10% so replicas do not hit the API server together.
	Interval time.Duration
	// CheckTimeout bounds one check; zero means DefaultCheckTimeout. A
	// check still running then fails (check_up 0, /readyz and /report 503).
	CheckTimeout time.Duration
	// StaleAfterIntervals: the last report is stale once no check has
	// succeeded for this many intervals plus CheckTimeout. Zero means
	// DefaultStaleAfterIntervals; 1 is refused (the jitter alone would
	// make every report stale for a moment before the next one).
	StaleAfterIntervals int
	Log                 *slog.Logger
	// Sign, when set, signs the exact bytes /report serves; /report.sig
	// serves the signature (cosign's base64 format). A report that cannot
	// be signed is not served: the check counts as failed.
	Sign func(data []byte) (string, error)
	// Collectors are more series for /metrics, registered with upgate's
	// own (serve's policy bundle polls).
	Collectors []prometheus.Collector

	// Changes, when set with a Debounce, schedules checks on change: each
	// value received says the cluster state the checks read changed. The
	// sender should send without blocking on a channel buffered for one
	// value (a burst is then one value): Run does not read it during a
	// check, and not at all when Debounce is zero.
	Changes <-chan struct{}
	// Debounce is the quiet period after a change: a check starts once no
	// change came for that long, or at the latest DebounceMax after the
	// first change no check has read yet. Zero: changes trigger no check,
	// only the interval does.
	Debounce time.Duration
	// DebounceMax bounds the delay of a change's check in a cluster that
	// keeps changing; zero means DefaultDebounceMax (or Debounce, when
	// longer). It must be at least Debounce.
	DebounceMax time.Duration

	now   func() time.Time // tests move the clock
	clock utilclock.Clock  // Run's timers; tests move them
	// waiting, when set, is told each time Run waits: until when, for
	// which trigger (tests follow the schedule by it).
	waiting func(at time.Time, why Trigger)
}

// result is one successful check: the report, the exact bytes served, their
// digest and signature, and when the check finished.
type result struct {
	rep    *finding.Report
	body   []byte
	digest string // sha256 hex of body
	sig    string
	at     time.Time
}

// Server runs checks and serves their outcome.
type Server struct {
	eval    EvaluateFunc
	opts    Options
	metrics *metrics
	reg     *prometheus.Registry
	started time.Time

	mu      sync.RWMutex
	good    *result   // the last successful check
	kept    []*result // the last KeptReports successful checks, oldest first
	lastErr error     // the last check's failure; nil after a success
	failAt  time.Time // when lastErr was recorded
	// returned is when an evaluation last returned, pass or fail: the
	// loop's liveness. running is set while one is in flight.
	returned time.Time
	running  bool
	runStart time.Time
}

// New returns a Server with its own metrics registry.
func New(eval EvaluateFunc, opts Options) (*Server, error) {
	if eval == nil {
		return nil, errors.New("service: no evaluate function")
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.CheckTimeout == 0 {
		opts.CheckTimeout = DefaultCheckTimeout
	}
	if opts.StaleAfterIntervals == 0 {
		opts.StaleAfterIntervals = DefaultStaleAfterIntervals
	}
	if opts.DebounceMax == 0 {
		opts.DebounceMax = max(DefaultDebounceMax, opts.Debounce)
	}
	switch {
	case opts.Interval < 0 || opts.CheckTimeout < 0 || opts.Debounce < 0 || opts.DebounceMax < 0:
		return nil, errors.New("service: negative interval, check timeout or debounce")
	case opts.Debounce > opts.DebounceMax:
		return nil, fmt.Errorf("service: debounce %s longer than its longest delay %s", opts.Debounce, opts.DebounceMax)
	case opts.StaleAfterIntervals < 2:
		return nil, fmt.Errorf("service: stale after %d intervals: must be at least 2", opts.StaleAfterIntervals)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	if opts.clock == nil {
		opts.clock = utilclock.RealClock{}
	}
	s := &Server{eval: eval, opts: opts, reg: prometheus.NewRegistry(), started: opts.now()}
	m, err := newMetrics(s.reg, s.upValue)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	for _, c := range opts.Collectors {
		if err := s.reg.Register(c); err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
	}
	return s, nil
}

// StaleAfter is how long a successful check stays current: after it with
// no newer success, /readyz and /report answer 503 and check_up is 0.
// The CheckTimeout is included because a slow check may take that long.
func (s *Server) StaleAfter() time.Duration {
	return time.Duration(s.opts.StaleAfterIntervals)*s.opts.Interval + s.opts.CheckTimeout
}

// StuckAfter is how long /healthz waits for any check to return, pass or
// fail, before it fails and the kubelet restarts the pod: twice
// StaleAfter. Failing checks (an API server that is down or hangs) return
// at their timeout and never fail it; only a loop stuck in a check that
// ignores its deadline does, and by then /readyz and check_up have said so
// for a while.
func (s *Server) StuckAfter() time.Duration { return 2 * s.StaleAfter() }

// RunOnce evaluates once, within Options.CheckTimeout, and records the
// outcome. A failed evaluation keeps the previous report for the digest
// endpoints but is counted and makes /readyz and /report fail: an
// unreadable cluster must never look like a passing one.
func (s *Server) RunOnce(ctx context.Context) { s.runOnce(ctx, "") }

// runOnce is RunOnce for a check Run scheduled, why.
func (s *Server) runOnce(ctx context.Context, why Trigger) {
	start, clock := s.opts.now(), time.Now()
	s.mu.Lock()
	if s.running {
		// An earlier check ignored its deadline; running a second one
		// beside it would only pile them up. /healthz fails if it never
		// returns, so the kubelet restarts the pod.
		since := s.runStart
		s.mu.Unlock()
		s.fail(fmt.Errorf("the check started at %s has not returned, %s past its %s timeout",
			since.UTC().Format(time.RFC3339), (start.Sub(since) - s.opts.CheckTimeout).Round(time.Second), s.opts.CheckTimeout))
		return
	}
	s.running, s.runStart = true, start
	s.mu.Unlock()

	type outcome struct {
		rep *finding.Report
		err error
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.CheckTimeout)
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		rep, err := s.eval(cctx)
		s.mu.Lock()
		s.running, s.returned = false, s.opts.now()
		s.mu.Unlock()
		done <- outcome{rep, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-cctx.Done():
		o.err = cctx.Err()
	}
	if ctx.Err() != nil {
		return // shutting down: no outcome to record
	}
	if errors.Is(o.err, context.DeadlineExceeded) || (o.err != nil && cctx.Err() != nil) {
		o.err = fmt.Errorf("the check did not finish within its %s timeout: %w", s.opts.CheckTimeout, o.err)
	}
	s.metrics.duration.Observe(time.Since(clock).Seconds())
	if o.err == nil && o.rep == nil {
		o.err = errors.New("the check returned no report")
	}
	var res *result
	if o.err == nil {
		res, o.err = s.render(o.rep)
	}
	if o.err != nil {
		s.fail(o.err)
		return
	}
	res.at = s.opts.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.good, s.lastErr = res, nil
	s.kept = append(s.kept, res)
	if len(s.kept) > KeptReports {
		s.kept = append([]*result(nil), s.kept[len(s.kept)-KeptReports:]...)
	}
	s.metrics.record(o.rep)
	args := []any{"verdict", o.rep.Verdict, "block", o.rep.Summary.Block, "warn", o.rep.Summary.Warn, "digest", "sha256:" + res.digest}
	if why != "" {
		args = append(args, "trigger", why)
	}
	s.opts.Log.Info("check done", args...)
}

func (s *Server) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr, s.failAt = err, s.opts.now()
	s.metrics.runs.WithLabelValues("error").Inc()
	s.opts.Log.Error("check failed", "err", err)
}

// state is what the endpoints answer from, read under one lock.
type state struct {
	good   *result
	err    error  // why the current state is unknown; nil when good is current
	stale  bool   // good exists but is not current
	detail string // the last success, for messages
}

func (s *Server) state() state {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.opts.now()
	st := state{good: s.good}
	if s.good != nil {
		st.detail = fmt.Sprintf("last successful check at %s (report sha256:%s)", s.good.at.UTC().Format(time.RFC3339), s.good.digest)
	}
	switch {
	case s.lastErr != nil:
		st.err = fmt.Errorf("last check failed at %s: %w", s.failAt.UTC().Format(time.RFC3339), s.lastErr)
	case s.good == nil:
		st.err = errors.New("no check has completed yet")
	case now.Sub(s.good.at) > s.StaleAfter():
		st.err = fmt.Errorf("no check has succeeded for %s (stale after %d intervals of %s plus the %s check timeout)",
			now.Sub(s.good.at).Round(time.Second), s.opts.StaleAfterIntervals, s.opts.Interval, s.opts.CheckTimeout)
	}
	st.stale = st.err != nil && s.good != nil
	return st
}

// message is the one text a failing endpoint answers with.
func (st state) message() string {
	if st.good == nil {
		return st.err.Error()
	}
	return st.err.Error() + "; " + st.detail
}

func (s *Server) upValue() float64 {
	if s.state().err != nil {
		return 0
	}
	return 1
}

// live reports whether the check loop makes progress: some evaluation,
// pass or fail, returned within StuckAfter. A failing API server does not
// fail it (a restart would not help); a check stuck past its deadline does.
func (s *Server) live() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	last := s.returned
	if last.IsZero() {
		last = s.started
	}
	if d := s.opts.now().Sub(last); d > s.StuckAfter() {
		what := "no check has returned since the start"
		if s.running {
			what = fmt.Sprintf("the check started at %s has not returned", s.runStart.UTC().Format(time.RFC3339))
		}
		return fmt.Errorf("%s, %s ago: the check loop is stuck", what, d.Round(time.Second))
	}
	return nil
}

// lookup returns a kept report by its sha256 hex digest.
func (s *Server) lookup(digest string) *result {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.kept {
		if r.digest == digest {
			return r
		}
	}
	return nil
}

// Handler serves /metrics, /healthz, /readyz, /report and /report.sig, and
// the kept reports and signatures by digest:
// /reports/sha256-<hex>.json and /reports/sha256-<hex>.sig.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.live(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if st := s.state(); st.err != nil {
			http.Error(w, st.message(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/report", func(w http.ResponseWriter, _ *http.Request) {
		st := s.state()
		if !s.current(w, st) {
			return
		}
		s.serveReport(w, st.good, "reports/")
	})
	mux.HandleFunc("/report.sig", func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Sign == nil {
			http.Error(w, "reports are not signed: start upgate serve with --sign-key", http.StatusNotFound)
			return
		}
		if d := r.URL.Query().Get("digest"); d != "" {
			hexDigest, ok := strings.CutPrefix(d, "sha256:")
			if !ok {
				http.Error(w, "digest must be sha256:<hex>", http.StatusBadRequest)
				return
			}
			s.serveKept(w, hexDigest, true, "reports/")
			return
		}
		// Without a digest: the signature of what /report serves now,
		// which a check may replace between two requests. The digest
		// header says which report it signs.
		st := s.state()
		if !s.current(w, st) {
			return
		}
		s.serveSig(w, st.good, "reports/")
	})
	mux.HandleFunc("/reports/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/reports/")
		hexDigest, ok := strings.CutPrefix(name, "sha256-")
		var sig bool
		switch {
		case !ok:
		case strings.HasSuffix(hexDigest, ".json"):
			hexDigest = strings.TrimSuffix(hexDigest, ".json")
		case strings.HasSuffix(hexDigest, ".sig"):
			hexDigest, sig = strings.TrimSuffix(hexDigest, ".sig"), true
		default:
			ok = false
		}
		if !ok {
			http.Error(w, "not found: reports are at /reports/sha256-<hex>.json and .sig", http.StatusNotFound)
			return
		}
		if sig && s.opts.Sign == nil {
			http.Error(w, "reports are not signed: start upgate serve with --sign-key", http.StatusNotFound)
			return
		}
		s.serveKept(w, hexDigest, sig, "")
	})
	return mux
}

// current answers 503 and returns false when there is no current report:
// none yet, the last check failed, or the last success is stale. The
// answer names the failure and the last success; the last good report stays
// at its digest address, marked stale.
func (s *Server) current(w http.ResponseWriter, st state) bool {
	if st.good != nil {
		w.Header().Set(HeaderLastSuccess, st.good.at.UTC().Format(time.RFC3339))
	}
	if st.err == nil {
		w.Header().Set(HeaderStale, "false")
		return true
	}
	msg := st.message()
	if st.good != nil {
		w.Header().Set(HeaderStale, "true")
		w.Header().Set("Warning", fmt.Sprintf("110 upgate %q", "Response is Stale: "+st.err.Error()))
		msg += "; it is kept, marked stale, at reports/sha256-" + st.good.digest + ".json"
	}
	w.Header().Set("Retry-After", fmt.Sprint(int(s.opts.Interval.Seconds())))
	http.Error(w, msg, http.StatusServiceUnavailable)
	return false
}

// serveKept serves a kept report or its signature by digest. Either is
// exactly what was served as /report then: a fetched report and the
// signature fetched for its digest always belong together. dir is the
// digest addresses' directory relative to the request's path.
func (s *Server) serveKept(w http.ResponseWriter, hexDigest string, sig bool, dir string) {
	res := s.lookup(strings.ToLower(hexDigest))
	if res == nil {
		http.Error(w, fmt.Sprintf("report sha256:%s is not kept (upgate serve keeps the last %d): fetch /report again", hexDigest, KeptReports), http.StatusNotFound)
		return
	}
	st := s.state()
	stale := st.err != nil || st.good != res
	w.Header().Set(HeaderStale, fmt.Sprint(stale))
	if sig {
		s.serveSig(w, res, dir)
		return
	}
	s.serveReport(w, res, dir)
}

// Links are relative to the request's path, so they also work behind a
// path prefix (kubectl proxy).

func (s *Server) serveReport(w http.ResponseWriter, res *result, dir string) {
	h := w.Header()
	h.Set(HeaderDigest, "sha256:"+res.digest)
	h.Set("Last-Modified", res.at.UTC().Format(http.TimeFormat))
	if s.opts.Sign != nil {
		h.Set(HeaderSignature, res.sig)
		h.Set("Link", fmt.Sprintf(`<%ssha256-%s.sig>; rel="signature"`, dir, res.digest))
	}
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(res.body)
}

func (s *Server) serveSig(w http.ResponseWriter, res *result, dir string) {
	h := w.Header()
	h.Set(HeaderDigest, "sha256:"+res.digest)
	h.Set("Last-Modified", res.at.UTC().Format(http.TimeFormat))
	h.Set("Link", fmt.Sprintf(`<%ssha256-%s.json>; rel="describes"`, dir, res.digest))
	h.Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(res.sig))
}

// ListenAndServe serves on addr and runs the check loop until ctx ends,
// then shuts the server down gracefully.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go s.Run(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.opts.Log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

// render turns a report into the bytes /report serves, and signs them.
func (s *Server) render(rep *finding.Report) (*result, error) {
	var buf bytes.Buffer
	if err := reports.Render(&buf, rep, reports.FormatJSON, reports.RenderOptions{}); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	res := &result{rep: rep, body: buf.Bytes(), digest: hex.EncodeToString(sum[:])}
	if s.opts.Sign == nil {
		return res, nil
	}
	sig, err := s.opts.Sign(res.body)
	if err != nil {
		return nil, fmt.Errorf("sign the report: %w", err)
	}
	res.sig = sig
	return res, nil
}
