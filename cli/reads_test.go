package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runWithin is run with a deadline: the command gets a context that ends
// after d, and the test fails, instead of hanging, if Main has not
// returned soon after. The inputs under test used to never end.
func runWithin(t *testing.T, d time.Duration, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := Main(ctx, append([]string{"upgate"}, args...), strings.NewReader(stdin), &out, &errOut)
		done <- result{code, out.String(), errOut.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.err
	case <-time.After(d + 30*time.Second):
		t.Fatalf("upgate %s did not end", strings.Join(args, " "))
		return 0, "", ""
	}
}

// wantBadInputLine checks the contract for bad input: exit 2, nothing on
// stdout, exactly one stderr line mentioning what was wrong.
func wantBadInputLine(t *testing.T, code int, stdout, stderr, mention string) {
	t.Helper()
	if code != ExitBadInput {
		t.Fatalf("exit %d, want %d; stderr: %s", code, ExitBadInput, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	if lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); len(lines) != 1 {
		t.Errorf("want one stderr line, got %d: %q", len(lines), stderr)
	}
	if !strings.Contains(stderr, mention) {
		t.Errorf("stderr %q does not mention %q", stderr, mention)
	}
}

func TestMaxInputSize(t *testing.T) {
	code, out, stderr := runWithin(t, time.Minute, "", "check", "--from", "testdata/cluster.yaml", "--target", "v1.36", "--max-input-size", "1Ki")
	wantBadInputLine(t, code, out, stderr, "--max-input-size")
	code, out, stderr = runWithin(t, time.Minute, "", "check", "--from", "testdata/cluster.yaml", "--target", "v1.36", "--max-input-size", "lots")
	wantBadInputLine(t, code, out, stderr, "--max-input-size")
	// From the environment, as every flag.
	t.Setenv("UPGATE_MAX_INPUT_SIZE", "1Ki")
	code, out, stderr = runWithin(t, time.Minute, "", "snapshot", "--from", "testdata/cluster.yaml", "-o", filepath.Join(t.TempDir(), "s.json"))
	wantBadInputLine(t, code, out, stderr, "1 KiB limit")
	t.Setenv("UPGATE_MAX_INPUT_SIZE", "")
	if code, _, stderr := runWithin(t, time.Minute, "", "check", "--from", "testdata/cluster.yaml", "--target", "v1.36", "--max-input-size", "1Mi"); code != ExitPassed {
		t.Errorf("a 1 MiB bound refused a small file: exit %d: %s", code, stderr)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
