package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

// run executes the command line as main does and returns exit code and output.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), append([]string{"upgate"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// splitWarnings separates stderr's "upgate: warning:" lines from the rest.
func splitWarnings(stderr string) (rest string, warnings []string) {
	var keep []string
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if strings.HasPrefix(l, "upgate: warning: ") {
			warnings = append(warnings, strings.TrimSpace(l))
		} else if l != "" {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, ""), warnings
}

func TestExitCodesAndOneLineErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("kind: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noVersion := filepath.Join(dir, "nover.yaml")
	if err := os.WriteFile(noVersion, []byte("apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	policyDir := filepath.Join(dir, "policies")
	if err := os.Mkdir(policyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(policyDir, "broken.rego"), []byte("package upgate.team\n\nfindings contains f if {\n\tf := \n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(cfg, []byte("targett: v1.36\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string // substring of the one stderr line
	}{
		{"passes", []string{"check", "--from", "testdata/cluster.yaml", "--target", "v1.35.2"}, 0, ""},
		{"no target", []string{"check", "--from", "testdata/cluster.yaml"}, 2, "--target is required"},
		{"bad target", []string{"check", "--from", "testdata/cluster.yaml", "--target", "latest"}, 2, "--target"},
		{"unknown flag", []string{"check", "--frm", "x"}, 2, "unknown flag"},
		{"malformed file", []string{"check", "--from", bad, "--target", "1.36"}, 2, "bad.yaml"},
		{"missing file", []string{"check", "--from", filepath.Join(dir, "nope.yaml"), "--target", "1.36"}, 2, "nope.yaml"},
		{"unknown version", []string{"check", "--from", noVersion, "--target", "1.36"}, 2, "--server-version"},
		{"bad format", []string{"check", "--from", "testdata/cluster.yaml", "--target", "1.36", "--format", "xml"}, 2, "--format"},
		{"config typo", []string{"check", "--config", cfg, "--from", "testdata/cluster.yaml"}, 2, "targett"},
		{"unknown command", []string{"chekc"}, 2, "unknown command"},
		{"broken custom policy", []string{"check", "--from", "testdata/cluster.yaml", "--target", "1.36", "--policy-dir", policyDir}, 2, "broken.rego:"},
		// serve compiles its policies once, at start: a broken one stops it
		// there, not every interval.
		{"serve with a broken custom policy", []string{"serve", "--from", "testdata/cluster.yaml", "--target", "1.36", "--policy-dir", policyDir, "--listen", "127.0.0.1:0"}, 2, "broken.rego:"},
		{"downgrade blocks", []string{"check", "--from", "testdata/cluster.yaml", "--target", "v1.34"}, 1, "blocking finding"},
		{"plan blocks", []string{"plan", "--from", "testdata/cluster.yaml", "--target", "v1.34"}, 1, "upgate check --target"},
		{"unreachable cluster", []string{"check", "--kubeconfig", filepath.Join(dir, "none"), "--target", "1.36"}, 3, ""},
		{"verify needs key", []string{"verify", "report.json"}, 2, "--key"},
		{"sign needs output", []string{"check", "--from", "testdata/cluster.yaml", "--target", "1.36", "--sign-key", "k"}, 2, "--output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			// A warning (the example cluster lacks webhooks, budgets and
			// workloads) is a line of its own, beside the failure's.
			var warnings []string
			stderr, warnings = splitWarnings(stderr)
			if len(warnings) > 1 {
				t.Errorf("want at most one warning line, got %q", warnings)
			}
			if code == 0 {
				if stderr != "" {
					t.Errorf("a pass prints nothing on stderr, got %q", stderr)
				}
				return
			}
			// Every non-zero exit, blocked included, says why in one line.
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 {
				t.Errorf("want one stderr line, got %d: %q", len(lines), stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.wantErr)
			}
		})
	}
}

func TestSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "upgate.yaml")
	if err := os.WriteFile(cfg, []byte("target: v1.34\nformat: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := func(stdout string) string {
		var r struct {
			TargetVersion string `json:"targetVersion"`
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("not a JSON report: %v\n%s", err, stdout)
		}
		return r.TargetVersion
	}
	// The file alone.
	_, out, _ := run(t, "", "check", "--config", cfg, "--from", "testdata/cluster.yaml")
	if got := target(out); got != "v1.34" {
		t.Errorf("file: target %q, want v1.34", got)
	}
	// The environment beats the file.
	t.Setenv("UPGATE_TARGET", "v1.35.2")
	_, out, _ = run(t, "", "check", "--config", cfg, "--from", "testdata/cluster.yaml")
	if got := target(out); got != "v1.35.2" {
		t.Errorf("env: target %q, want v1.35.2", got)
	}
	// A flag beats both.
	_, out, _ = run(t, "", "check", "--config", cfg, "--from", "testdata/cluster.yaml", "--target", "1.36")
	if got := target(out); got != "v1.36" {
		t.Errorf("flag: target %q, want v1.36", got)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range []string{"snapshot", "check", "plan", "run", "serve", "verify", "version"} {
		code, out, stderr := run(t, "", c, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q", c, code, out, stderr)
		}
	}
	code, out, _ := run(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "upgate ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestCheckFromStdinAndOutputFile(t *testing.T) {
	b, err := os.ReadFile("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := run(t, string(b), "check", "--from", "-", "--target", "v1.36", "--format", "json", "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("with --output, stdout should be empty, got %q", stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	for _, k := range []string{"apiVersion", "kind", "phase", "currentVersion", "targetVersion", "verdict", "generatedAt", "findings", "summary"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if rep["currentVersion"] != "v1.35.2" || rep["verdict"] != "passed" {
		t.Errorf("currentVersion %v verdict %v", rep["currentVersion"], rep["verdict"])
	}
}

func TestSnapshotFromManifests(t *testing.T) {
	out := filepath.Join(t.TempDir(), "snap.json")
	code, _, stderr := run(t, "", "snapshot", "--from", "testdata/cluster.yaml", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, "", "check", "--from", out, "--target", "v1.36")
	if code != 0 {
		t.Fatalf("check from snapshot: exit %d: %s", code, stderr)
	}
}

func TestConfigExceptions(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("exceptions:\n- namespace: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "", "check", "--config", bad, "--from", "testdata/cluster.yaml", "--target", "1.36")
	if code != 2 || !strings.Contains(stderr, "exceptions[0]") {
		t.Errorf("exception without a check: exit %d, %q; want 2 naming exceptions[0]", code, stderr)
	}
	// An exception for the only blocking finding lets the gate pass, and
	// the finding stays in the report, ignored.
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("exceptions:\n- check: path.downgrade\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "", "check", "--config", good, "--from", "testdata/cluster.yaml", "--target", "1.34", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, stderr)
	}
	if !strings.Contains(out, `"check": "path.downgrade"`) || !strings.Contains(out, `"ignored": true`) {
		t.Errorf("ignored finding missing from report:\n%s", out)
	}
}

func TestRunSettingsComeFromTheOneConfig(t *testing.T) {
	cmd := NewRootCommand("upgate", genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	run, _, err := cmd.Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "upgate.yaml")
	if err := os.WriteFile(file, []byte("driver: command\ndriver-command: echo hi\ndrain-timeout: 2m\ndriver-timeout: 45m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("UPGATE_DRAIN_TIMEOUT", "90s")
	if err := run.Flags().Parse([]string{"--lock-namespace", "ops"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(run, file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Driver != "command" || cfg.DriverCommand != "echo hi" {
		t.Errorf("driver from the file: %q %q", cfg.Driver, cfg.DriverCommand)
	}
	if cfg.DrainTimeout != 90*time.Second {
		t.Errorf("drain-timeout = %v, want the environment's 90s over the file's 2m", cfg.DrainTimeout)
	}
	if cfg.DriverTimeout != 45*time.Minute {
		t.Errorf("driver-timeout = %v, want the file's 45m", cfg.DriverTimeout)
	}
	if cfg.GateWait != 30*time.Second {
		t.Errorf("gate-wait = %v, want the flag default 30s", cfg.GateWait)
	}
	if cfg.LockNamespace != "ops" {
		t.Errorf("lock-namespace = %q, want the flag's ops", cfg.LockNamespace)
	}
	if err := validateRun(&Config{Driver: "ssh", LockNamespace: "x"}); ExitCode(err) != ExitBadInput {
		t.Errorf("unknown driver: %v", err)
	}
}

func TestReportRecordsTheInputDigest(t *testing.T) {
	_, out, stderr := run(t, "", "check", "--from", "testdata/cluster.yaml", "--target", "v1.36", "--format", "json")
	var r struct {
		Input struct {
			InputDigest string `json:"inputDigest"`
		} `json:"input"`
		Producer struct {
			PolicyDigest string `json:"policyDigest"`
		} `json:"producer"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	data, err := os.ReadFile("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if want := "sha256:" + hex.EncodeToString(sum[:]); r.Input.InputDigest != want {
		t.Errorf("inputDigest = %q, want the file's sha256 %q", r.Input.InputDigest, want)
	}
	if !strings.HasPrefix(r.Producer.PolicyDigest, "sha256:") {
		t.Errorf("policyDigest = %q", r.Producer.PolicyDigest)
	}
}

func TestRoleSelectorsFromConfig(t *testing.T) {
	dir := t.TempDir()
	// Only cp-1 counts as control plane: cp-2 becomes a worker, which
	// leaves a single control-plane node.
	cfg := filepath.Join(dir, "roles.yaml")
	if err := os.WriteFile(cfg, []byte("roles:\n  controlPlane: kubernetes.io/hostname=cp-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "", "check", "--config", cfg, "--from", "testdata/cluster.yaml", "--target", "1.36", "--format", "json")
	if code != 1 || !strings.Contains(out, `"check": "safety.single-control-plane"`) {
		t.Errorf("exit %d (%s); want safety.single-control-plane to block:\n%s", code, stderr, out)
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("roles:\n  control-plane: x=y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "", "check", "--config", typo, "--from", "testdata/cluster.yaml", "--target", "1.36"); code != 2 || !strings.Contains(stderr, "roles") {
		t.Errorf("misspelt role: exit %d, %q; want 2 naming roles", code, stderr)
	}
}

// Plain manifests say what they hold, not what the cluster has: the
// report and one stderr line name the topics they gave nothing to judge.
// A snapshot of the same state lists every kind, so it has no gaps.
func TestPlainManifestsNameWhatTheyLack(t *testing.T) {
	code, out, stderr := run(t, "", "check", "--from", "testdata/cluster.yaml", "--target", "1.36", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r finding.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	var webhook *finding.InputGap
	for i, g := range r.Input.Gaps {
		if g.Topic == "webhook" {
			webhook = &r.Input.Gaps[i]
		}
	}
	if webhook == nil || !slices.Contains(webhook.Missing, "ValidatingWebhookConfiguration") || !slices.Contains(webhook.Missing, "EndpointSlice") {
		t.Fatalf("the report's gaps %+v do not name the webhook topic and its kinds", r.Input.Gaps)
	}
	if _, warnings := splitWarnings(stderr); len(warnings) != 1 || !strings.Contains(warnings[0], "webhook checks (no ValidatingWebhookConfiguration") {
		t.Errorf("stderr %q: want one warning naming the webhook checks", stderr)
	}

	inv, err := inventory.Read([]string{"testdata/cluster.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv.CollectedAt = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	snap := filepath.Join(t.TempDir(), "snapshot.json")
	var buf bytes.Buffer
	if err := inv.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snap, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = run(t, "", "check", "--from", snap, "--target", "1.36", "--format", "json")
	if code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, stderr)
	}
	r = finding.Report{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Input.Gaps) != 0 || stderr != "" {
		t.Errorf("a snapshot lists every kind, yet gaps %+v, stderr %q", r.Input.Gaps, stderr)
	}
}

// client-go reports through klog, which writes errors to the process's
// stderr whatever its output is set to: outside debug runs none of them
// may reach it, or a failure is no longer one line (seen: "Unexpected
// error when reading response body" as a forbidden list cancels the
// others).
func TestClientGoErrorsStayOffStderr(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = saved }()
	code, _, stderr := run(t, "", "check", "--from", "testdata/cluster.yaml", "--target", "1.36", "--format", "json")
	klog.ErrorS(errors.New("context canceled"), "Unexpected error when reading response body")
	klog.Flush()
	os.Stderr = saved
	w.Close()
	leaked, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(leaked) > 0 {
		t.Errorf("klog wrote to the process's stderr: %q", leaked)
	}
}
