//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServeExportsTheGate runs `upgate serve` against the live cluster and
// reads its endpoints as the kubelet's probes and Prometheus would; the
// metrics must also pass `promtool check metrics`.
func TestServeExportsTheGate(t *testing.T) {
	addr := freeAddr(t)
	// Sign the served reports with a key the stock cosign CLI made.
	keys := t.TempDir()
	gen := exec.Command("cosign", "generate-key-pair")
	gen.Dir = keys
	gen.Env = append(os.Environ(), "COSIGN_PASSWORD=e2e")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	srv := startServe(t, addr, []string{"KUBECONFIG=" + kubeconfig, "COSIGN_PASSWORD=e2e"}, 60*time.Second,
		"serve", "--target", target, "--listen", addr, "--interval", "5s", "--sign-key", filepath.Join(keys, "cosign.key"))
	get := srv.get
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		"upgate_upgrade_blocked 1",
		"upgate_check_up 1",
		`upgate_findings{check="safety.unmanaged-pod",severity="block"} 1`,
		`upgate_check_info{current_version="v1.36.3",target_version="` + target + `"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	lint := exec.Command("promtool", "check", "metrics")
	lint.Stdin = strings.NewReader(metrics)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	code, body := get("/report")
	if code != http.StatusOK || !strings.Contains(body, `"verdict": "blocked"`) {
		t.Errorf("/report = %d %s", code, firstLines(body, 5))
	}
	// The pair always matches: the signature is fetched by the digest of
	// the bytes received, however many checks ran in between.
	sum := sha256.Sum256([]byte(body))
	code, sig := get("/reports/sha256-" + hex.EncodeToString(sum[:]) + ".sig")
	if code != http.StatusOK {
		t.Fatalf("signature by digest = %d %s", code, sig)
	}
	report := filepath.Join(keys, "report.json")
	if err := os.WriteFile(report, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(report+".sig", []byte(sig), 0o644); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(keys, "cosign.pub")
	if out, err := exec.Command("cosign", "verify-blob", "--key", pub, "--signature", report+".sig",
		"--insecure-ignore-tlog=true", report).CombinedOutput(); err != nil {
		t.Errorf("cosign verify-blob rejects the served report: %v\n%s", err, out)
	}
	if code, _, stderr := upgate(t, "verify", report, "--key", pub); code != 0 {
		t.Errorf("upgate verify of the served report: exit %d %s", code, stderr)
	}
}

// TestServeChecksOnChange: serve watches the cluster and checks after a
// change, not only on its interval (an hour here): a Deployment of one
// replica created in the live cluster shows in
// upgate_findings{check="safety.singleton"} within seconds of the
// --debounce, and leaves it once deleted.
func TestServeChecksOnChange(t *testing.T) {
	addr := freeAddr(t)
	srv := startServe(t, addr, []string{"KUBECONFIG=" + kubeconfig}, 60*time.Second,
		"serve", "--target", target, "--listen", addr, "--interval", "1h", "--debounce", "2s")
	const singleton = `upgate_findings{check="safety.singleton",severity="block"}`
	metric := func(metrics, series string) float64 {
		for _, l := range strings.Split(metrics, "\n") {
			if v, ok := strings.CutPrefix(l, series+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				return f
			}
		}
		return 0
	}
	waitFor := func(what string, ok func(metrics string) bool) string {
		t.Helper()
		start := time.Now()
		for deadline := start.Add(30 * time.Second); ; {
			_, metrics := srv.get("/metrics")
			if ok(metrics) {
				t.Logf("%s after %s", what, time.Since(start).Round(100*time.Millisecond))
				return metrics
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30s; stderr:\n%s\nmetrics:\n%s", what, srv.stderr.String(), metrics)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	_, metrics := srv.get("/metrics")
	before := metric(metrics, singleton)
	const ns = "e2e-serve-watch"
	kubectl(t, "", "create", "namespace", ns)
	defer kubectl(t, "", "delete", "namespace", ns, "--ignore-not-found", "--wait=false")
	kubectl(t, "", "-n", ns, "create", "deployment", "lonely", "--image=registry.k8s.io/pause:3.10", "--replicas=1")
	metrics = waitFor("the new singleton in /metrics", func(m string) bool { return metric(m, singleton) == before+1 })
	if n := metric(metrics, `upgate_check_triggers_total{trigger="change"}`); n < 1 {
		t.Errorf("upgate_check_triggers_total{trigger=\"change\"} = %v, want the change-triggered checks counted", n)
	}
	if n := metric(metrics, `upgate_check_triggers_total{trigger="interval"}`); n != 0 {
		t.Errorf("upgate_check_triggers_total{trigger=\"interval\"} = %v with --interval 1h", n)
	}
	kubectl(t, "", "-n", ns, "delete", "deployment", "lonely")
	waitFor("the singleton gone from /metrics", func(m string) bool {
		return metric(m, singleton) == before && metric(m, "upgate_check_up") == 1
	})
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// served is an `upgate serve` a test started.
type served struct {
	addr   string
	stderr *bytes.Buffer
}

// freeAddr is a loopback address no one listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs upgate with args (serve and its flags; it must listen
// on addr) and env added to the test's, waits at most wait until /readyz
// answers 200, and interrupts it when the test ends.
func startServe(t *testing.T, addr string, env []string, wait time.Duration, args ...string) *served {
	t.Helper()
	cmd := exec.Command(upgateBin, args...)
	cmd.Env = append(os.Environ(), env...)
	s := &served{addr: addr, stderr: &bytes.Buffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(wait); ; {
		if code, _ := s.get("/readyz"); code == http.StatusOK {
			return s
		}
		if time.Now().After(deadline) {
			_, metrics := s.get("/metrics")
			t.Fatalf("upgate %s never became ready within %s; stderr:\n%s\nmetrics:\n%s",
				strings.Join(args, " "), wait, s.stderr.String(), firstLines(metrics, 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// get fetches path from serve: the status and the body (the error, with
// status 0, when it cannot be reached).
func (s *served) get(path string) (int, string) {
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
