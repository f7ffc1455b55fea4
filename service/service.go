// Package service is `upgate serve`: a loop that re-evaluates the policies
// on a jittered interval, keeps the latest report, and serves it with
// Prometheus metrics and health endpoints.
package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/upgate-dev/upgate/reports"
)

// EvaluateFunc runs one check and returns its report.
type EvaluateFunc func(ctx context.Context) (*reports.Report, error)

// DefaultInterval is used when Options.Interval is zero.
const DefaultInterval = 5 * time.Minute

// Options configure a Server.
type Options struct {
	// Interval between checks; zero means DefaultInterval. Each wait is
	// jittered by up to 10% so replicas do not hit the API server together.
	Interval time.Duration
	Log      *slog.Logger
	// Sign, when set, signs the exact bytes /report serves; /report.sig
	// serves the signature (cosign's base64 format). A report that cannot
	// be signed is not served: the check counts as failed.
	Sign func(data []byte) (string, error)
}

// Server runs checks and serves their outcome.
type Server struct {
	eval    EvaluateFunc
	opts    Options
	metrics *metrics
	reg     *prometheus.Registry

	mu      sync.RWMutex
	latest  *reports.Report
	body    []byte // latest rendered as JSON, the bytes /report serves
	sig     string // signature over body, when signing
	lastErr error
}

// New returns a Server with its own metrics registry.
func New(eval EvaluateFunc, opts Options) (*Server, error) {
	if eval == nil {
		return nil, errors.New("service: no evaluate function")
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Server{eval: eval, opts: opts, metrics: m, reg: reg}, nil
}

// RunOnce evaluates once and records the outcome. A failed evaluation keeps
// the previous report but is counted and makes /readyz fail: an unreadable
// cluster must never look like a passing one.
func (s *Server) RunOnce(ctx context.Context) {
	start := time.Now()
	rep, err := s.eval(ctx)
	var body []byte
	var sig string
	if err == nil {
		body, sig, err = s.render(rep)
	}
	s.metrics.duration.Observe(time.Since(start).Seconds())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	if err != nil {
		s.metrics.runs.WithLabelValues("error").Inc()
		s.metrics.up.Set(0)
		s.opts.Log.Error("check failed", "err", err)
		return
	}
	s.latest, s.body, s.sig = rep, body, sig
	s.metrics.record(rep)
	s.opts.Log.Info("check done", "verdict", rep.Verdict, "block", rep.Summary.Block, "warn", rep.Summary.Warn)
}

// Run checks on the interval until ctx ends.
func (s *Server) Run(ctx context.Context) {
	wait.JitterUntilWithContext(ctx, s.RunOnce, s.opts.Interval, 0.1, true)
}

// Handler serves /metrics, /healthz, /readyz and /report.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		switch {
		case s.lastErr != nil:
			http.Error(w, "last check failed: "+s.lastErr.Error(), http.StatusServiceUnavailable)
		case s.latest == nil:
			http.Error(w, "no check has completed yet", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte("ok\n"))
		}
	})
	mux.HandleFunc("/report", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.RLock()
		body := s.body
		s.mu.RUnlock()
		if body == nil {
			http.Error(w, "no check has completed yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/report.sig", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.RLock()
		body, sig := s.body, s.sig
		s.mu.RUnlock()
		switch {
		case s.opts.Sign == nil:
			http.Error(w, "reports are not signed: start upgate serve with --sign-key", http.StatusNotFound)
		case body == nil:
			http.Error(w, "no check has completed yet", http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(sig))
		}
	})
	return mux
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
func (s *Server) render(rep *reports.Report) ([]byte, string, error) {
	var buf bytes.Buffer
	if err := reports.Render(&buf, rep, reports.FormatJSON, reports.RenderOptions{}); err != nil {
		return nil, "", err
	}
	if s.opts.Sign == nil {
		return buf.Bytes(), "", nil
	}
	sig, err := s.opts.Sign(buf.Bytes())
	if err != nil {
		return nil, "", fmt.Errorf("sign the report: %w", err)
	}
	return buf.Bytes(), sig, nil
}
