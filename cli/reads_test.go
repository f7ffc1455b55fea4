package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
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

func TestAbsurdTargetIsBadInput(t *testing.T) {
	for _, cmd := range [][]string{{"check"}, {"plan"}, {"run", "--dry-run"}} {
		for _, target := range []string{"v1.2000000000", "v1.99", "v2.0"} {
			t.Run(cmd[0]+" "+target, func(t *testing.T) {
				args := append(append([]string{}, cmd...), "--from", "testdata/cluster.yaml", "--target", target)
				code, out, stderr := runWithin(t, time.Minute, "", args...)
				wantBadInputLine(t, code, out, stderr, "--target")
			})
		}
	}
	// The hops start from the oldest kube-apiserver: the gap counts from it.
	old := filepath.Join(t.TempDir(), "old-apiserver.yaml")
	writeTestFile(t, old, `apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver-cp-2
  namespace: kube-system
  labels: {component: kube-apiserver, tier: control-plane}
  annotations: {kubernetes.io/config.mirror: "abc"}
spec:
  nodeName: cp-2
  containers: [{name: kube-apiserver, image: registry.k8s.io/kube-apiserver:v1.20.0}]
`)
	code, out, stderr := runWithin(t, time.Minute, "", "plan", "--from", "testdata/cluster.yaml", "--from", old, "--target", "v1.36")
	wantBadInputLine(t, code, out, stderr, "v1.20.0")
	// Ten minors ahead is still a plan, of ten hops.
	code, out, stderr = runWithin(t, time.Minute, "", "plan", "--from", "testdata/cluster.yaml", "--target", "v1.45", "--format", "json")
	if code != ExitPassed && code != ExitBlocked {
		t.Fatalf("plan to v1.45: exit %d: %s", code, stderr)
	}
	var plan struct {
		Hops []json.RawMessage `json:"hops"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("plan --format json: %v", err)
	}
	if len(plan.Hops) != 10 {
		t.Errorf("plan from v1.35 to v1.45 has %d hops, want 10", len(plan.Hops))
	}
}

func TestStateWithoutNodesIsBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.json")
	writeTestFile(t, empty, `{"apiVersion":"v1","kind":"List","items":[]}`)
	configMaps := filepath.Join(dir, "cm.yaml")
	writeTestFile(t, configMaps, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: x}\n")
	for _, cmd := range [][]string{{"check"}, {"plan"}, {"run", "--dry-run"}} {
		for _, in := range []string{empty, configMaps} {
			t.Run(cmd[0]+" "+filepath.Base(in), func(t *testing.T) {
				args := append(append([]string{}, cmd...), "--from", in, "--target", "v1.36", "--server-version", "v1.35.2")
				code, out, stderr := runWithin(t, time.Minute, "", args...)
				wantBadInputLine(t, code, out, stderr, "nothing to judge")
			})
		}
	}
	code, out, stderr := runWithin(t, time.Minute, "", "check", "--phase", "postflight", "--baseline", empty,
		"--from", "testdata/cluster.yaml", "--target", "v1.36")
	wantBadInputLine(t, code, out, stderr, "--baseline")
}

// TestLiveClusterWithoutNodesIsBadInput reads a cluster whose every list
// is empty, through an API server that answers just that.
func TestLiveClusterWithoutNodesIsBadInput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/version":
			fmt.Fprint(w, `{"major":"1","minor":"35","gitVersion":"v1.35.2"}`)
		case "/metrics":
			w.Header().Set("Content-Type", "text/plain")
		default:
			fmt.Fprint(w, `{"metadata":{},"items":[]}`)
		}
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "config")
	writeTestFile(t, kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, srv.URL))
	for _, cmd := range [][]string{{"check"}, {"plan"}, {"run", "--dry-run"}} {
		t.Run(cmd[0], func(t *testing.T) {
			args := append(append([]string{}, cmd...), "--kubeconfig", kubeconfig, "--target", "v1.36")
			code, out, stderr := runWithin(t, time.Minute, "", args...)
			wantBadInputLine(t, code, out, stderr, "the cluster has no Node")
		})
	}
}

// TestJudgeRefusesBeforeAnyPolicy holds the shared judge step to its
// order: a node-less state or an absurd gap is refused before the engine
// (nil here: using it would panic) is ever asked.
func TestJudgeRefusesBeforeAnyPolicy(t *testing.T) {
	v := func(s string) *version.Version {
		t.Helper()
		p, err := kubever.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	inv, err := inventory.Read([]string{"testdata/cluster.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = judge(context.Background(), &Config{MaxUnavailable: 1}, nil, inv, v("v1.46"), finding.PhasePreflight, nil)
	if ExitCode(err) != ExitBadInput || !strings.Contains(err.Error(), "at most 10") {
		t.Errorf("11 minors ahead: %v (exit %d), want bad input", err, ExitCode(err))
	}
	_, err = judge(context.Background(), &Config{MaxUnavailable: 1}, nil, &inventory.Inventory{}, v("v1.36"), finding.PhasePreflight, nil)
	if ExitCode(err) != ExitBadInput || !strings.Contains(err.Error(), "nothing to judge") {
		t.Errorf("no nodes: %v (exit %d), want bad input", err, ExitCode(err))
	}
}

func TestDuplicateKindIsBadInput(t *testing.T) {
	// A Node that encoding/json alone would read as a Pod.
	dup := filepath.Join(t.TempDir(), "node.json")
	writeTestFile(t, dup, `{"apiVersion":"v1","kind":"Node","metadata":{"name":"cp-1"},"kind":"Pod"}`)
	code, out, stderr := runWithin(t, time.Minute, "", "check", "--from", "testdata/cluster.yaml", "--from", dup, "--target", "v1.36")
	wantBadInputLine(t, code, out, stderr, "node.json")
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

func TestSnapshotFilesArePrivateAndScrubbed(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "pod.yaml")
	writeTestFile(t, in, `apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: shop
  annotations: {vault.hashicorp.com/agent-inject-token: s.hunter2, upgate.dev/ignore: safety.emptydir}
spec:
  nodeName: worker-1
  containers: [{name: c, image: "app:1"}]
  volumes: [{name: s, csi: {driver: secrets-store.csi.k8s.io, volumeAttributes: {token: hunter2}}}]
`)
	snap := filepath.Join(dir, "snap.json")
	// An existing, world-readable file is replaced by a private one.
	writeTestFile(t, snap, "old")
	if err := os.Chmod(snap, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runWithin(t, time.Minute, "", "snapshot", "--from", "testdata/cluster.yaml", "--from", in, "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, stderr)
	}
	report := filepath.Join(dir, "report.json")
	if code, _, stderr := runWithin(t, time.Minute, "", "check", "--from", snap, "--target", "v1.36",
		"--format", "json", "--embed-snapshot", "--output", report); code != 0 && code != 1 {
		t.Fatalf("check: exit %d: %s", code, stderr)
	}
	for _, f := range []string{snap, report} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(f), st.Mode().Perm())
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("hunter2")) || bytes.Contains(data, []byte("vault.hashicorp.com")) {
			t.Errorf("%s keeps what no check reads", filepath.Base(f))
		}
		if !bytes.Contains(data, []byte("upgate.dev/ignore")) {
			t.Errorf("%s lost the ignore annotation", filepath.Base(f))
		}
	}
}
