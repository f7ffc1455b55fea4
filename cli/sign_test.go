package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/internal/tooltest"
)

// TestSignedReportRoundTrip signs a report through `upgate check` with a key
// made by the real `cosign generate-key-pair`, verifies it with both
// `cosign verify-blob` and `upgate verify`, then tampers with it.
func TestSignedReportRoundTrip(t *testing.T) {
	cosign := tooltest.Require(t, "cosign")
	dir := t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "s3cret")
	gen := exec.Command(cosign, "generate-key-pair")
	gen.Dir = dir
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	key, pub := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	report := filepath.Join(dir, "report.json")

	code, _, stderr := run(t, "", "check", "--from", "testdata/cluster.yaml", "--target", "v1.36",
		"--format", "json", "--output", report, "--sign-key", key)
	if code != 0 {
		t.Fatalf("signed check: exit %d: %s", code, stderr)
	}
	cosignVerify := func() error {
		return exec.Command(cosign, "verify-blob", "--key", pub, "--signature", report+".sig",
			"--insecure-ignore-tlog=true", report).Run()
	}
	if err := cosignVerify(); err != nil {
		t.Fatalf("cosign verify-blob rejects upgate's signature: %v", err)
	}
	if code, out, stderr := run(t, "", "verify", report, "--key", pub); code != 0 || !strings.Contains(out, "Verified OK") {
		t.Fatalf("upgate verify: exit %d %q %q", code, out, stderr)
	}

	// One changed byte: both must reject it, upgate with exit 1.
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(report, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if cosignVerify() == nil {
		t.Errorf("cosign accepted a tampered report")
	}
	if code, _, stderr := run(t, "", "verify", report, "--key", pub); code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("upgate verify of a tampered report: exit %d, stderr %q; want 1 and one line", code, stderr)
	}

	// A wrong password is bad input, and no signature is left behind.
	t.Setenv("COSIGN_PASSWORD", "wrong")
	other := filepath.Join(dir, "other.json")
	code, _, stderr = run(t, "", "check", "--from", "testdata/cluster.yaml", "--target", "v1.36",
		"--format", "json", "--output", other, "--sign-key", key)
	if code != 2 || !strings.Contains(stderr, "COSIGN_PASSWORD") {
		t.Errorf("wrong password: exit %d, stderr %q; want 2 naming COSIGN_PASSWORD", code, stderr)
	}
	for _, f := range []string{other, other + ".sig"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s was written although signing failed", f)
		}
	}
	// A wrong key is rejected.
	if code, _, _ := run(t, "", "verify", report, "--key", key); code == 0 {
		t.Errorf("verify with a private key as the public key passed")
	}
}
