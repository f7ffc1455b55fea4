package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/upgate-dev/upgate/internal/bundletest"
	"github.com/upgate-dev/upgate/internal/tooltest"
)

// jsonReport is what the bundle tests read of a JSON report.
type jsonReport struct {
	Findings []struct {
		Check   string `json:"check"`
		Message string `json:"message"`
	} `json:"findings"`
	Producer struct {
		PolicyDigest string `json:"policyDigest"`
	} `json:"producer"`
}

func parseReport(t *testing.T, s string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, s)
	}
	return r
}

func (r jsonReport) has(check string) bool {
	for _, f := range r.Findings {
		if f.Check == check {
			return true
		}
	}
	return false
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A bundle built and signed by the stock `opa build`, and a bundle
// directory signed by `opa sign`, are accepted with the public key: the
// bundle's policy reports in check. The directory with a module changed
// after `opa sign` is refused, exit 2, in one line naming the bundle.
func TestPolicyBundleFromOPABuild(t *testing.T) {
	opa := tooltest.Require(t, "opa")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o700); err != nil {
		t.Fatal(err)
	}
	priv, pub := bundletest.RSAKey(t)
	privFile, pubFile := writeTemp(t, "private.pem", []byte(priv)), writeTemp(t, "public.pem", []byte(pub))
	for name, content := range map[string]string{
		"fleet.rego": bundletest.Policy("fleet.rule", "fleet policy from opa build"),
		".manifest":  `{"roots": ["upgate/fleet"]}`,
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	opaRun := func(in string, args ...string) {
		t.Helper()
		cmd := exec.Command(opa, args...)
		cmd.Dir = in
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("opa %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The commands docs/policies.md gives.
	doc := string(readFile(t, "../docs/policies.md"))
	for _, line := range []string{"opa build --bundle DIR --signing-key private.pem", "opa sign --bundle .",
		"--policy-bundle bundle.tar.gz --policy-bundle-key public.pem", `{"roots": ["upgate/`} {
		if !strings.Contains(doc, line) {
			t.Errorf("docs/policies.md no longer gives %q", line)
		}
	}
	tarball := filepath.Join(dir, "bundle.tar.gz")
	opaRun(dir, "build", "--bundle", "src", "--signing-key", privFile, "--revision", "v1", "-o", tarball)
	// opa sign, in the directory (it names the files by the path it is
	// given), writes .signatures.json there: a signed bundle directory.
	opaRun(src, "sign", "--bundle", ".", "--signing-key", privFile)

	check := func(bundle string) (int, string, string) {
		return run(t, "", "check", "--from", "testdata/cluster.yaml", "--target", "v1.35.2", "--format", "json",
			"--policy-bundle", bundle, "--policy-bundle-key", pubFile)
	}
	for _, b := range []string{tarball, src} {
		code, out, stderr := check(b)
		if code != ExitPassed {
			t.Fatalf("--policy-bundle %s: exit %d: %s", b, code, stderr)
		}
		if !parseReport(t, out).has("fleet.rule") {
			t.Errorf("--policy-bundle %s: the bundle's finding is not in the report:\n%s", b, out)
		}
	}

	rego := filepath.Join(src, "fleet.rego")
	mod, err := os.ReadFile(rego)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rego, bytes.Replace(mod, []byte("severity: warn"), []byte("severity: info"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := check(src)
	if code != ExitBadInput || strings.Count(strings.TrimSpace(stderr), "\n") != 0 ||
		!strings.Contains(stderr, "--policy-bundle "+src+": signature not verified: fleet.rego: digest mismatch") {
		t.Errorf("tampered bundle directory: exit %d, stderr %q; want exit 2 and one line naming the bundle and the file", code, stderr)
	}
}

// Every bundle upgate must not run stops check, plan, run and serve with
// exit 2 and one stderr line naming the bundle and what failed; a bundle
// service that cannot be reached at start is exit 3.
func TestPolicyBundleRefused(t *testing.T) {
	priv, pub := bundletest.RSAKey(t)
	_, otherPub := bundletest.RSAKey(t)
	key, otherKey := writeTemp(t, "public.pem", []byte(pub)), writeTemp(t, "other.pem", []byte(otherPub))
	rs256 := bundle.NewSigningConfig(priv, "RS256", "")
	policy := map[string]string{"/fleet.rego": bundletest.Policy("fleet.rule", "fleet policy")}
	file := func(s bundletest.Spec) string { return writeTemp(t, "bundle.tar.gz", bundletest.Build(t, s)) }
	signed := file(bundletest.Spec{Modules: policy, Sign: rs256})
	tampered := file(bundletest.Spec{Modules: policy, Sign: rs256, AfterSigning: func(b *bundle.Bundle) {
		b.Modules[0].Raw = bytes.Replace(b.Modules[0].Raw, []byte("warn"), []byte("info"), 1)
	}})
	unsigned := file(bundletest.Spec{Modules: policy})
	outside := file(bundletest.Spec{Modules: map[string]string{"/team.rego": "package team.rules\n\nx := 1\n"}, Roots: []string{"team"}})
	badPackage := file(bundletest.Spec{Modules: map[string]string{"/u.rego": "package upgate\n\nx := 1\n"}})

	var served []byte
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(served) }))
	defer svc.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	check := []string{"check", "--from", "testdata/cluster.yaml", "--target", "v1.35.2"}
	tests := []struct {
		name    string
		args    []string
		serve   []byte // what the bundle service answers
		code    int
		wantErr string
	}{
		{"signed", []string{"--policy-bundle", signed, "--policy-bundle-key", key}, nil, 0, ""},
		{"tampered", []string{"--policy-bundle", tampered, "--policy-bundle-key", key}, nil, 2, "--policy-bundle " + tampered + ": signature not verified: fleet.rego: digest mismatch"},
		{"another key", []string{"--policy-bundle", signed, "--policy-bundle-key", otherKey}, nil, 2, "signature not verified: failed to verify JWT signature"},
		{"unsigned with a key", []string{"--policy-bundle", unsigned, "--policy-bundle-key", key}, nil, 2, "the bundle is not signed"},
		{"signed without a key", []string{"--policy-bundle", signed}, nil, 2, "the bundle is signed but no --policy-bundle-key"},
		{"a root outside upgate", []string{"--policy-bundle", outside}, nil, 2, `manifest root "team" is not under upgate/`},
		{"a package outside upgate.", []string{"--policy-bundle", badPackage}, nil, 2, "package upgate is not under upgate."},
		{"no such bundle", []string{"--policy-bundle", filepath.Join(t.TempDir(), "none.tar.gz")}, nil, 2, "none.tar.gz"},
		{"a key without a bundle", []string{"--policy-bundle-key", key}, nil, 2, "need --policy-bundle"},
		{"no key file", []string{"--policy-bundle", signed, "--policy-bundle-key", filepath.Join(t.TempDir(), "none.pem")}, nil, 2, "--policy-bundle-key"},
		{"a service's tampered bundle", []string{"--policy-bundle", svc.URL, "--policy-bundle-key", key}, readFile(t, tampered), 2, "--policy-bundle " + svc.URL + ": signature not verified"},
		{"an unreachable service", []string{"--policy-bundle", downURL}, nil, 3, "--policy-bundle " + downURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			served = tc.serve
			for _, cmd := range [][]string{check, {"plan", "--from", "testdata/cluster.yaml", "--target", "v1.35.2"},
				{"serve", "--from", "testdata/cluster.yaml", "--target", "v1.35.2", "--listen", "127.0.0.1:0"}} {
				if cmd[0] != "check" && tc.code == 0 {
					continue // serve would not return
				}
				code, _, stderr := run(t, "", append(cmd, tc.args...)...)
				stderr, _ = splitWarnings(stderr)
				if code != tc.code {
					t.Fatalf("%s: exit %d, want %d: %s", cmd[0], code, tc.code, stderr)
				}
				if tc.code == 0 {
					continue
				}
				if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, tc.wantErr) {
					t.Errorf("%s: stderr %q, want one line saying %q", cmd[0], stderr, tc.wantErr)
				}
			}
		})
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bundleService is an OPA bundle service for tests: it serves one bundle
// with its ETag and answers 304 to If-None-Match with it, counting both.
type bundleService struct {
	mu          sync.Mutex
	body        []byte
	etag        string
	gets, not   int      // 200s and 304s served
	ifNoneMatch []string // the If-None-Match of each request
}

func (s *bundleService) set(body []byte, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag = body, etag
}

func (s *bundleService) counts() (gets, notModified int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets, s.not
}

func (s *bundleService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ifNoneMatch = append(s.ifNoneMatch, r.Header.Get("If-None-Match"))
	if r.Header.Get("If-None-Match") == s.etag {
		s.not++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.gets++
	w.Header().Set("ETag", s.etag)
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(s.body)
}

// serve polls its bundle service before each check: 304 keeps the engine
// it has, a new signed bundle replaces it from the next check (the
// report's policy digest and findings change), and a tampered one is
// refused, logged and counted while the last good bundle stays in use.
func TestServePollsPolicyBundle(t *testing.T) {
	priv, pub := bundletest.RSAKey(t)
	key := writeTemp(t, "public.pem", []byte(pub))
	sign := bundle.NewSigningConfig(priv, "RS256", "")
	build := func(check string, tamper bool) []byte {
		s := bundletest.Spec{Modules: map[string]string{"/fleet.rego": bundletest.Policy(check, "from the bundle service")}, Sign: sign, Revision: check}
		if tamper {
			s.AfterSigning = func(b *bundle.Bundle) { b.Modules[0].Raw = append(b.Modules[0].Raw, "\n# changed\n"...) }
		}
		return bundletest.Build(t, s)
	}
	svc := &bundleService{}
	svc.set(build("fleet.v1", false), `"v1"`)
	bundles := httptest.NewServer(svc)
	defer bundles.Close()
	svcURL := bundles.URL

	srv := startServe(t, seams{}, "--from", "testdata/cluster.yaml", "--target", "v1.35.2",
		"--interval", "200ms", "--policy-bundle", svcURL, "--policy-bundle-key", key)
	stderr := srv.stderr
	// get is the body of a 200 answer, "" for anything else.
	get := func(path string) string {
		if code, body := srv.get(path); code == http.StatusOK {
			return body
		}
		return ""
	}
	// waitFor polls until ok holds for the current report and metrics.
	waitFor := func(what string, ok func(r jsonReport, metrics string) bool) jsonReport {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if body := get("/report"); body != "" {
				r := parseReport(t, body)
				if ok(r, get("/metrics")) {
					return r
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen in 30s; serve's stderr:\n%s", what, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	v1 := waitFor("the first bundle's finding, then a poll answered 304", func(r jsonReport, m string) bool {
		return r.has("fleet.v1") && metricValue(m, `upgate_policy_bundle_polls_total{result="unchanged"}`) >= 2
	})
	if gets, _ := svc.counts(); gets != 1 {
		t.Errorf("the unchanged bundle was sent %d times, want once (at start)", gets)
	}

	svc.set(build("fleet.v2", false), `"v2"`)
	v2 := waitFor("the new bundle's finding", func(r jsonReport, m string) bool {
		return r.has("fleet.v2") && !r.has("fleet.v1") && metricValue(m, `upgate_policy_bundle_polls_total{result="loaded"}`) == 1
	})
	if v2.Producer.PolicyDigest == v1.Producer.PolicyDigest || v1.Producer.PolicyDigest == "" {
		t.Errorf("policy digest %q with the new bundle, %q before", v2.Producer.PolicyDigest, v1.Producer.PolicyDigest)
	}

	svc.set(build("fleet.v3", true), `"v3"`)
	waitFor("the tampered bundle refused", func(r jsonReport, m string) bool {
		return metricValue(m, "upgate_policy_bundle_up") == 0 && metricValue(m, `upgate_policy_bundle_polls_total{result="failed"}`) >= 1
	})
	// The checks go on with the last good bundle.
	r := waitFor("a check after the refusal", func(r jsonReport, m string) bool { return true })
	if !r.has("fleet.v2") || r.has("fleet.v3") || r.Producer.PolicyDigest != v2.Producer.PolicyDigest {
		t.Errorf("after a tampered bundle: findings %v, digest %s; want the last good bundle's", r.Findings, r.Producer.PolicyDigest)
	}
	if log := stderr.String(); !strings.Contains(log, "policy bundle not loaded") || !strings.Contains(log, "digest mismatch") {
		t.Errorf("serve's log does not say the bundle was refused and why:\n%s", log)
	}

	svc.mu.Lock()
	defer svc.mu.Unlock()
	if svc.ifNoneMatch[0] != "" || !strings.Contains(strings.Join(svc.ifNoneMatch, " "), `"v1" "v1"`) {
		t.Errorf("If-None-Match of the requests: %q; want none at start, then the ETag of the bundle in use", svc.ifNoneMatch)
	}
}

// metricValue is the value of one series in a /metrics answer; -1 when
// it is not there.
func metricValue(metrics, series string) float64 {
	for _, l := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
		}
	}
	return -1
}

// --policy-bundle and its key are settings like the others: from the
// config file and UPGATE_* variables too.
func TestPolicyBundleSettings(t *testing.T) {
	priv, pub := bundletest.RSAKey(t)
	tarball := writeTemp(t, "bundle.tar.gz", bundletest.Build(t, bundletest.Spec{
		Modules: map[string]string{"/fleet.rego": bundletest.Policy("fleet.rule", "fleet policy")},
		Sign:    bundle.NewSigningConfig(priv, "RS256", ""),
	}))
	cfg := writeTemp(t, "upgate.yaml", []byte("policy-bundle: "+tarball+"\npolicy-bundle-key-alg: RS256\n"))
	t.Setenv("UPGATE_POLICY_BUNDLE_KEY", writeTemp(t, "public.pem", []byte(pub)))
	code, out, stderr := run(t, "", "check", "--config", cfg, "--from", "testdata/cluster.yaml", "--target", "v1.35.2", "--format", "json")
	if code != ExitPassed || !parseReport(t, out).has("fleet.rule") {
		t.Fatalf("exit %d, stderr %q; want the bundle's finding", code, stderr)
	}
	// The wrong algorithm for the key: the signature does not verify.
	t.Setenv("UPGATE_POLICY_BUNDLE_KEY_ALG", "ES256")
	if code, _, stderr := run(t, "", "check", "--config", cfg, "--from", "testdata/cluster.yaml", "--target", "v1.35.2"); code != ExitBadInput || !strings.Contains(stderr, "signature not verified") {
		t.Errorf("UPGATE_POLICY_BUNDLE_KEY_ALG=ES256: exit %d, stderr %q; want 2", code, stderr)
	}
}

// The policy docs/policies.md gives as its example calls data.upgate.lib,
// which `opa build` cannot resolve on its own: as the doc says, opa build
// refuses it, and the directory signed by `opa sign`, or a tarball of its
// files as the doc's tar command writes it, is accepted, the policy
// reporting its finding.
func TestPolicyBundleOfTheDocumentedPolicy(t *testing.T) {
	opa := tooltest.Require(t, "opa")
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		tooltest.Unavailable(t, "no tar on PATH")
	}
	doc := string(readFile(t, "../docs/policies.md"))
	_, after, ok := strings.Cut(doc, "```rego\npackage upgate.house\n")
	policy, _, closed := strings.Cut(after, "```")
	if !ok || !closed {
		t.Fatal("docs/policies.md has no ```rego block of package upgate.house")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "DIR")
	if err := os.Mkdir(src, 0o700); err != nil {
		t.Fatal(err)
	}
	priv, pub := bundletest.RSAKey(t)
	privFile, pubFile := writeTemp(t, "private.pem", []byte(priv)), writeTemp(t, "public.pem", []byte(pub))
	for name, content := range map[string]string{
		"house.rego": "package upgate.house\n" + policy,
		".manifest":  `{"roots": ["upgate/house"]}`,
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, line := range []string{"undefined function data.upgate.lib.finding",
		"opa sign --bundle . --signing-key ../private.pem", "tar -czf ../bundle.tar.gz .manifest .signatures.json house.rego"} {
		if !strings.Contains(doc, line) {
			t.Errorf("docs/policies.md no longer says %q", line)
		}
	}
	build := exec.Command(opa, "build", "--bundle", src, "--signing-key", privFile, "-o", filepath.Join(dir, "built.tar.gz"))
	if out, err := build.CombinedOutput(); err == nil || !strings.Contains(string(out), "undefined function data.upgate.lib.finding") {
		t.Errorf("opa build of a policy calling lib.finding: %v %s; docs/policies.md says it fails", err, out)
	}
	in := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	in(opa, "sign", "--bundle", ".", "--signing-key", privFile)
	tarball := filepath.Join(dir, "bundle.tar.gz")
	in(tarBin, "-czf", tarball, ".manifest", ".signatures.json", "house.rego")
	for _, b := range []string{src, tarball} {
		code, out, stderr := run(t, "", "check", "--from", "testdata/cluster.yaml", "--target", "v1.35.2", "--format", "json",
			"--policy-bundle", b, "--policy-bundle-key", pubFile)
		if code != ExitBlocked || !parseReport(t, out).has("house.change-freeze") {
			t.Errorf("--policy-bundle %s: exit %d (want 1, blocked by the freeze), stderr %q; the report:\n%s", b, code, stderr, out)
		}
	}
}
