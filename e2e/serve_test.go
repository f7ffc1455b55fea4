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
	"strings"
	"testing"
	"time"
)

// TestServeExportsTheGate runs `upgate serve` against the live cluster and
// reads its endpoints as the kubelet's probes and Prometheus would; the
// metrics must also pass `promtool check metrics`.
func TestServeExportsTheGate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// Sign the served reports with a key the stock cosign CLI made.
	keys := t.TempDir()
	gen := exec.Command("cosign", "generate-key-pair")
	gen.Dir = keys
	gen.Env = append(os.Environ(), "COSIGN_PASSWORD=e2e")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	cmd := exec.Command(upgateBin, "serve", "--target", target, "--listen", addr, "--interval", "5s",
		"--sign-key", filepath.Join(keys, "cosign.key"))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "COSIGN_PASSWORD=e2e")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never became ready; serve's stderr:\n%s", stderr.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
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

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
