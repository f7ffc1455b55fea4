// Package apiretry rides out the API server's brief absence. A
// control-plane upgrade restarts the API server under a running executor,
// and a node must not be marked failed because a call found it away for
// a few seconds: the round tripper here retries, with backoff, the
// requests that the server never processed (the connection was refused,
// or it answered 503 while starting) and the reads that a dropped
// connection cut short.
//
// It never retries a write whose fate is unknown: a POST or PUT whose
// connection broke after it was sent may have been applied, so its error
// goes back to the caller as it is.
package apiretry

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
)

// Policy says how long to keep trying and how to wait between tries.
type Policy struct {
	// Budget bounds the retries of one request (the request's own
	// context bounds them too). Zero disables retrying.
	Budget time.Duration
	// Initial is the first wait; each next one doubles up to Max.
	Initial, Max time.Duration
	// OnRetry, when set, hears of each retry: the request, the attempt
	// that failed (1 for the first) and why. It must be safe to call
	// from several goroutines.
	OnRetry func(req *http.Request, attempt int, reason string)
}

// Defaults fills the waits a Policy leaves zero.
func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = 200 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 5 * time.Second
	}
	return p
}

// Configure makes every client built from rc retry as p says.
func Configure(rc *rest.Config, p Policy) {
	if p.Budget <= 0 {
		return
	}
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper { return Wrap(rt, p) })
}

// Wrap returns a round tripper that retries next's transient failures as
// p says; with a zero Budget it returns next.
func Wrap(next http.RoundTripper, p Policy) http.RoundTripper {
	if p.Budget <= 0 {
		return next
	}
	return &transport{next: next, p: p.withDefaults()}
}

type transport struct {
	next http.RoundTripper
	p    Policy
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A body that cannot be read again cannot be sent again.
	rewindable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	start := time.Now()
	wait := t.p.Initial
	for attempt := 1; ; attempt++ {
		try := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			try = req.Clone(req.Context())
			try.Body = body
		}
		resp, err := t.next.RoundTrip(try)
		reason := retryable(req.Method, resp, err)
		if reason == "" || !rewindable {
			return resp, err
		}
		// Leave room for at least the wait itself within the budget.
		d := jitter(wait)
		if time.Since(start)+d > t.p.Budget {
			return resp, err
		}
		if resp != nil {
			// Drain so that the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if t.p.OnRetry != nil {
			t.p.OnRetry(req, attempt, reason)
		}
		timer := time.NewTimer(d)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
		wait = min(2*wait, t.p.Max)
	}
}

// retryable says why the outcome of one attempt is worth another, or ""
// when it is not.
func retryable(method string, resp *http.Response, err error) string {
	if err != nil {
		if notSent(err) {
			return "the API server is unreachable: " + err.Error()
		}
		if idempotent(method) && (utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err)) {
			return "the connection to the API server broke: " + err.Error()
		}
		return ""
	}
	// 503 is what an API server answers while it starts or while etcd is
	// away: the request was not served. A 429 carries Retry-After, which
	// client-go already honours itself.
	if resp.StatusCode == http.StatusServiceUnavailable {
		return "the API server answered " + resp.Status
	}
	return ""
}

// notSent reports whether the request never reached a server: the dial
// failed (refused, no route, timed out).
func notSent(err error) bool {
	if utilnet.IsConnectionRefused(err) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// jitter spreads retries of concurrent requests: d, give or take a fifth.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.4*float64(d))
}
