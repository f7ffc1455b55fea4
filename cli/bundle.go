package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/upgate-dev/upgate/policies"
)

// addPolicyBundleFlags adds --policy-bundle and its key flags, beside
// --policy-dir.
func addPolicyBundleFlags(f *pflag.FlagSet) {
	f.String("policy-bundle", "", "extra Rego policies as an OPA bundle (opa build --bundle; its .manifest roots under upgate/, packages under upgate.*, Rego modules only): a bundle .tar.gz, a bundle directory, or the http(s) URL of an OPA bundle service, which serve polls every --interval (ETag)")
	f.String("policy-bundle-key", "", "file of the key that verifies --policy-bundle's signature (opa build --signing-key): a PEM public key, or the shared secret for HS256; with it an unsigned or tampered bundle is refused, and without it a signed one is")
	f.String("policy-bundle-key-alg", policies.DefaultBundleKeyAlg, "algorithm of --policy-bundle-key (as opa's --verification-key): RS256, PS256, ES256, HS256 and their 384 and 512 variants")
	f.String("policy-bundle-scope", "", "scope the signature of --policy-bundle must claim (opa build --claims-file), if any")
}

// bundleFetchTimeout bounds the fetch of a bundle at start; serve's polls
// are bounded by their check's --check-timeout.
const bundleFetchTimeout = time.Minute

// maxBundleBytes bounds a bundle service's answer (compressed).
const maxBundleBytes = 64 << 20

// readPolicies returns the options of the policy engine that cfg names:
// --policy-dir, and --policy-bundle read and verified. src is set when the
// bundle comes from a bundle service, for serve to poll.
func readPolicies(ctx context.Context, cfg *Config) (opts policies.Options, src *bundleSource, err error) {
	opts.PolicyDirs = cfg.PolicyDirs
	if cfg.PolicyBundle == "" {
		if cfg.PolicyBundleKey != "" || cfg.PolicyBundleScope != "" {
			return opts, nil, usageErrorf("--policy-bundle-key and --policy-bundle-scope need --policy-bundle")
		}
		return opts, nil, nil
	}
	var key *policies.BundleKey
	if cfg.PolicyBundleKey != "" {
		b, err := os.ReadFile(cfg.PolicyBundleKey)
		if err != nil {
			return opts, nil, usageErrorf("--policy-bundle-key: %s", oneLine(err))
		}
		// The file's exact bytes: a shared secret is not trimmed.
		key = &policies.BundleKey{Key: string(b), Alg: cfg.PolicyBundleKeyAlg, Scope: cfg.PolicyBundleScope}
	} else if cfg.PolicyBundleScope != "" {
		return opts, nil, usageErrorf("--policy-bundle-scope needs --policy-bundle-key: a scope is a claim of the signature")
	}
	if !isBundleURL(cfg.PolicyBundle) {
		opts.Bundle, err = policies.ReadBundle(cfg.PolicyBundle, key)
		return opts, nil, err
	}
	src = &bundleSource{url: cfg.PolicyBundle, key: key, client: &http.Client{}}
	fctx, cancel := context.WithTimeout(ctx, bundleFetchTimeout)
	defer cancel()
	f, err := src.fetch(fctx)
	if err != nil {
		return opts, nil, err
	}
	src.accept(f)
	opts.Bundle = f.bundle
	return opts, src, nil
}

func isBundleURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// bundleSource is an OPA bundle service: a URL answering GET with a
// bundle tarball, and 304 to If-None-Match with the ETag it last sent.
type bundleSource struct {
	url    string
	key    *policies.BundleKey
	client *http.Client

	etag string   // of the last bundle accepted
	sum  [32]byte // sha256 of the last bundle accepted
}

// fetched is a bundle a service answered with, read and verified.
type fetched struct {
	bundle *policies.Bundle
	etag   string
	sum    [32]byte
}

// fetch GETs the bundle and reads and verifies it; nil when the service
// answered 304 or the bundle last accepted. A service that cannot be
// reached, or answers anything else than 200 or 304, is a runtime failure
// (exit 3); a bundle that is refused is policies.ErrInvalidPolicy (exit 2).
func (s *bundleSource) fetch(ctx context.Context) (*fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, usageErrorf("--policy-bundle %s: %s", s.url, oneLine(err))
	}
	if s.etag != "" {
		req.Header.Set("If-None-Match", s.etag)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, runtimeErrorf("--policy-bundle %s: %s", s.url, oneLine(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		if s.etag != "" {
			return nil, nil
		}
		return nil, runtimeErrorf("--policy-bundle %s: 304 Not Modified to a request that named no ETag", s.url)
	case http.StatusOK:
	default:
		return nil, runtimeErrorf("--policy-bundle %s: the bundle service answered %s", s.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBundleBytes+1))
	if err != nil {
		return nil, runtimeErrorf("--policy-bundle %s: reading the bundle: %s", s.url, oneLine(err))
	}
	if len(body) > maxBundleBytes {
		return nil, usageErrorf("--policy-bundle %s: the bundle is larger than %d MiB", s.url, maxBundleBytes>>20)
	}
	f := &fetched{etag: resp.Header.Get("ETag"), sum: sha256.Sum256(body)}
	if f.sum == s.sum {
		// A service without ETags sends the same bundle again.
		return nil, nil
	}
	if f.bundle, err = policies.ParseBundle(s.url, bytes.NewReader(body), s.key); err != nil {
		return nil, err
	}
	return f, nil
}

// accept records the bundle as the one in use: the next fetch asks for a
// newer one. A refused bundle is never accepted, so each poll fetches it
// again and says again why it is refused.
func (s *bundleSource) accept(f *fetched) { s.etag, s.sum = f.etag, f.sum }

// bundlePoller is serve's policy engine when --policy-bundle is a bundle
// service: each check first polls the service and, when it has a new
// bundle that verifies and compiles, evaluates with it. A bundle that is
// refused or cannot be fetched leaves the last good engine in use: serve
// never evaluates an unverified bundle, and never stops checking because
// the bundle service is away. The log and the upgate_policy_bundle_*
// series say so.
type bundlePoller struct {
	src  *bundleSource
	opts policies.Options // Bundle is replaced by each new bundle
	log  *slog.Logger

	polls *prometheus.CounterVec
	up    prometheus.Gauge

	mu     sync.Mutex
	engine *policies.Engine
}

func newBundlePoller(src *bundleSource, opts policies.Options, engine *policies.Engine, log *slog.Logger) *bundlePoller {
	p := &bundlePoller{src: src, opts: opts, engine: engine, log: log,
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "upgate", Name: "policy_bundle_polls_total",
			Help: "Polls of the --policy-bundle service by result: unchanged (304 or the same bundle), loaded (a new bundle verified and compiled) or failed (unreachable or refused: the last good bundle stays in use).",
		}, []string{"result"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "upgate", Name: "policy_bundle_up",
			Help: "1 when the last poll of the --policy-bundle service got its current bundle, 0 when it failed and checks evaluate the last good bundle.",
		}),
	}
	p.up.Set(1) // serve starts only with a good bundle
	for _, r := range []string{"unchanged", "loaded", "failed"} {
		p.polls.WithLabelValues(r) // every result shows, at 0 until it happens
	}
	return p
}

func (p *bundlePoller) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.polls, p.up}
}

// current polls the bundle service and returns the engine to evaluate
// with.
func (p *bundlePoller) current(ctx context.Context) *policies.Engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := p.src.fetch(ctx)
	if err == nil && f == nil {
		p.polls.WithLabelValues("unchanged").Inc()
		p.up.Set(1)
		return p.engine
	}
	var engine *policies.Engine
	if err == nil {
		opts := p.opts
		opts.Bundle = f.bundle
		engine, err = policies.New(ctx, opts)
	}
	if err != nil {
		p.polls.WithLabelValues("failed").Inc()
		p.up.Set(0)
		p.log.Error("policy bundle not loaded; checks evaluate the last good one", "bundle", p.src.url,
			"err", oneLine(err), "policyDigest", p.engine.Digest())
		return p.engine
	}
	p.src.accept(f)
	p.engine = engine
	p.polls.WithLabelValues("loaded").Inc()
	p.up.Set(1)
	p.log.Info("policy bundle loaded", "bundle", p.src.url, "revision", f.bundle.Revision,
		"etag", f.etag, "policyDigest", engine.Digest())
	return engine
}
