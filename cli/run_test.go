package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/upgate-dev/upgate/internal/tooltest"
)

// fakeCluster is testdata/cluster.yaml (two control-plane nodes, two
// workers at v1.35.2) in a fake clientset the kwok driver can upgrade.
func fakeCluster(t *testing.T) *fake.Clientset {
	t.Helper()
	data, err := os.ReadFile("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []json.RawMessage }
	if err := yaml.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, raw := range list.Items {
		var meta metav1.TypeMeta
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatal(err)
		}
		var obj runtime.Object
		switch meta.Kind {
		case "Node":
			obj = &corev1.Node{}
		case "Pod":
			obj = &corev1.Pod{}
		default:
			t.Fatalf("unexpected kind %s", meta.Kind)
		}
		if err := json.Unmarshal(raw, obj); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, obj)
	}
	cs := fake.NewClientset(objs...)
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.35.2"}
	return cs
}

// runOn runs upgate against cs, with stdin a terminal or not.
func runOn(t *testing.T, ctx context.Context, cs kubernetes.Interface, terminal bool, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	s := seams{
		clientset:  func() (kubernetes.Interface, error) { return cs, nil },
		isTerminal: func(io.Reader) bool { return terminal },
	}
	code := mainWith(ctx, append([]string{"upgate"}, args...), strings.NewReader(stdin), &out, &errOut, s)
	return code, out.String(), errOut.String()
}

var runArgs = []string{"run", "--target", "v1.36", "--driver", "kwok", "--gate-wait", "0s", "--ready-timeout", "5s", "--control-plane-timeout", "5s"}

func untouched(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable || n.Annotations["upgate.dev/phase"] != "" {
			t.Errorf("node %s was touched: unschedulable %t, annotations %v", n.Name, n.Spec.Unschedulable, n.Annotations)
		}
	}
}

type runRecord struct {
	APIVersion, Kind, Verdict, Reason, OnDrainTimeout string
	DryRun                                            bool
	Plan                                              *struct{ Kind string }
	Nodes                                             []struct {
		Name, Hop, Stage, Outcome, Reason string
		Steps                             []struct{ Name, Result string }
	}
	EtcdBackups    []json.RawMessage
	EtcdBackupNote string
}

func readRecord(t *testing.T, path string) runRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec runRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return rec
}

// TestRunConfirmation: without a terminal run refuses unless --yes; on a
// terminal it shows the steps and asks, and only y goes on.
func TestRunConfirmation(t *testing.T) {
	t.Run("no terminal, no --yes: exit 2, nothing changed", func(t *testing.T) {
		cs := fakeCluster(t)
		code, _, stderr := runOn(t, context.Background(), cs, false, "y\n", runArgs...)
		if code != 2 || !strings.Contains(stderr, "--yes") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q; want 2 and one line naming --yes", code, stderr)
		}
		untouched(t, cs)
	})
	t.Run("terminal, answer n: exit 1, nothing changed", func(t *testing.T) {
		cs := fakeCluster(t)
		code, out, stderr := runOn(t, context.Background(), cs, true, "n\n", runArgs...)
		if code != 1 || !strings.Contains(stderr, "not confirmed") {
			t.Errorf("exit %d, stderr %q; want 1, not confirmed", code, stderr)
		}
		if i, j := strings.Index(out, "Hop 1/1"), strings.Index(out, "Proceed?"); i < 0 || j < i {
			t.Errorf("the steps must come before the question:\n%s", out)
		}
		untouched(t, cs)
	})
	t.Run("terminal, answer y: the run goes", func(t *testing.T) {
		cs := fakeCluster(t)
		code, out, stderr := runOn(t, context.Background(), cs, true, "y\n", runArgs...)
		if code != 0 || !strings.Contains(out, "Proceed?") || !strings.Contains(out, "finished") {
			t.Fatalf("exit %d, stderr %q\n%s", code, stderr, out)
		}
	})
	t.Run("--yes on a terminal does not ask", func(t *testing.T) {
		cs := fakeCluster(t)
		code, out, stderr := runOn(t, context.Background(), cs, true, "", append(runArgs, "--yes")...)
		if code != 0 || strings.Contains(out, "Proceed?") {
			t.Fatalf("exit %d, stderr %q\n%s", code, stderr, out)
		}
	})
	t.Run("a dry run never asks", func(t *testing.T) {
		code, out, stderr := runOn(t, context.Background(), nil, true, "", "run", "--dry-run", "--from", "testdata/cluster.yaml", "--target", "v1.36")
		if code != 0 || strings.Contains(out, "Proceed?") {
			t.Errorf("exit %d, stderr %q\n%s", code, stderr, out)
		}
	})
}

// TestRunRecordFile: --output writes the Run record of a finished run, of
// a dry run and of an interrupted one (exit 3, the node left with a
// reason); each step of the run is an Event on its node.
func TestRunRecordFile(t *testing.T) {
	dir := t.TempDir()
	t.Run("finished", func(t *testing.T) {
		cs := fakeCluster(t)
		file := filepath.Join(dir, "run.json")
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(runArgs, "--yes", "--output", file, "--on-drain-timeout", "quarantine")...)
		if code != 0 {
			t.Fatalf("exit %d: %s\n%s", code, stderr, out)
		}
		rec := readRecord(t, file)
		if rec.APIVersion != "upgate.dev/v1alpha1" || rec.Kind != "Run" || rec.Verdict != "done" || rec.DryRun || rec.Plan == nil || rec.Plan.Kind != "Plan" || rec.OnDrainTimeout != "quarantine" {
			t.Errorf("record header %+v", rec)
		}
		var got []string
		for _, n := range rec.Nodes {
			got = append(got, n.Name+"/"+n.Stage+"/"+n.Outcome)
			if len(n.Steps) != 7 {
				t.Errorf("%s steps %+v, want gate to validate", n.Name, n.Steps)
			}
		}
		if want := "cp-1/control-plane/done cp-2/control-plane/done worker-1/workers/done worker-2/workers/done"; strings.Join(got, " ") != want {
			t.Errorf("nodes %v, want %s", got, want)
		}
		if len(rec.EtcdBackups) != 0 || !strings.Contains(rec.EtcdBackupNote, "kwok") {
			t.Errorf("kwok backups %v, note %q", rec.EtcdBackups, rec.EtcdBackupNote)
		}
		evs, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		reasons := map[string]int{}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "worker-1" {
				reasons[e.Reason]++
			}
		}
		for _, r := range []string{"UpgateGate", "UpgateCordon", "UpgateDrain", "UpgateUpgrade", "UpgateReady", "UpgateUncordon", "UpgateValidate"} {
			if reasons[r] != 1 {
				t.Errorf("worker-1 has %d %s events, want 1 (all: %v)", reasons[r], r, reasons)
			}
		}
	})
	t.Run("dry run", func(t *testing.T) {
		file := filepath.Join(dir, "dry.json")
		code, out, stderr := runOn(t, context.Background(), nil, false, "", "run", "--dry-run", "--from", "testdata/cluster.yaml", "--target", "v1.36", "--output", file)
		if code != 0 {
			t.Fatalf("exit %d: %s\n%s", code, stderr, out)
		}
		rec := readRecord(t, file)
		if rec.Verdict != "passed" || !rec.DryRun || len(rec.Nodes) != 4 || rec.Nodes[0].Outcome != "not-started" {
			t.Errorf("dry-run record %+v", rec)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		cs := fakeCluster(t)
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		var once sync.Once
		// SIGINT while the driver upgrades worker-1: the upgrade finishes,
		// the run stops there.
		cs.PrependReactor("patch", "nodes", func(a clienttesting.Action) (bool, runtime.Object, error) {
			if p := a.(clienttesting.PatchAction); p.GetSubresource() == "status" && p.GetName() == "worker-1" {
				once.Do(func() { cancel(errors.New("interrupt signal received")) })
			}
			return false, nil, nil
		})
		file := filepath.Join(dir, "stopped.json")
		code, out, stderr := runOn(t, ctx, cs, false, "", append(runArgs, "--yes", "--output", file)...)
		if code != 3 || !strings.Contains(stderr, "interrupted") || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("exit %d, stderr %q; want 3, one line\n%s", code, stderr, out)
		}
		rec := readRecord(t, file)
		outcomes := map[string]string{}
		for _, n := range rec.Nodes {
			outcomes[n.Name] = n.Outcome
			if n.Name == "worker-1" && !strings.Contains(n.Reason, "interrupt signal received") {
				t.Errorf("worker-1 reason %q", n.Reason)
			}
		}
		if rec.Verdict != "stopped" || outcomes["cp-1"] != "done" || outcomes["worker-1"] != "failed" || outcomes["worker-2"] != "not-started" {
			t.Errorf("verdict %s, outcomes %v", rec.Verdict, outcomes)
		}
		n, err := cs.CoreV1().Nodes().Get(context.Background(), "worker-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Annotations["upgate.dev/phase"] != "upgraded" || !strings.Contains(n.Annotations["upgate.dev/reason"], "interrupt") {
			t.Errorf("worker-1 annotations %v", n.Annotations)
		}
		// The next run resumes and finishes.
		code, out, stderr = runOn(t, context.Background(), cs, false, "", append(runArgs, "--yes")...)
		if code != 0 {
			t.Fatalf("resume: exit %d: %s\n%s", code, stderr, out)
		}
	})
}

// TestRunRecordSigned: --sign-key signs the record as a report; upgate
// verify (and cosign verify-blob, when installed) accepts it and rejects
// it once a byte changed.
func TestRunRecordSigned(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("COSIGN_PASSWORD", "s3cret")
	kp, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte("s3cret"), nil })
	if err != nil {
		t.Fatal(err)
	}
	key, pub := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(key, kp.PrivateBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, kp.PublicBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "run.json")
	code, out, stderr := runOn(t, context.Background(), nil, false, "", "run", "--dry-run", "--from", "testdata/cluster.yaml", "--target", "v1.36", "--output", file, "--sign-key", key)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	if code, out, stderr := run(t, "", "verify", file, "--key", pub); code != 0 || !strings.Contains(out, "Verified OK") {
		t.Fatalf("verify: exit %d %q %q", code, out, stderr)
	}
	if cosignBin := tooltest.Lookup("cosign"); cosignBin != "" {
		if b, err := exec.Command(cosignBin, "verify-blob", "--key", pub, "--signature", file+".sig", "--insecure-ignore-tlog=true", file).CombinedOutput(); err != nil {
			t.Errorf("cosign verify-blob rejects the run record: %v\n%s", err, b)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "", "verify", file, "--key", pub); code != 1 {
		t.Errorf("verify of a tampered record: exit %d %q, want 1", code, stderr)
	}
	// A key that cannot sign is found before the run, not after it.
	t.Setenv("COSIGN_PASSWORD", "wrong")
	other := filepath.Join(dir, "other.json")
	code, _, stderr = runOn(t, context.Background(), fakeCluster(t), false, "", append(runArgs, "--yes", "--output", other, "--sign-key", key)...)
	if code != 2 || !strings.Contains(stderr, "COSIGN_PASSWORD") {
		t.Errorf("wrong password: exit %d %q, want 2 before the run", code, stderr)
	}
	if _, err := os.Stat(other); err == nil {
		t.Errorf("a record was written though the key could not sign")
	}
}

// TestRunFlagsValidated: --on-drain-timeout takes abort, skip or
// quarantine; --sign-key needs --output.
func TestRunFlagsValidated(t *testing.T) {
	for _, args := range [][]string{
		{"--on-drain-timeout", "delete"},
		{"--sign-key", "k.key"},
	} {
		code, _, stderr := runOn(t, context.Background(), fakeCluster(t), false, "", append(append([]string{}, runArgs...), args...)...)
		if code != 2 || !strings.Contains(stderr, args[0]) {
			t.Errorf("%v: exit %d %q, want 2 naming %s", args, code, stderr, args[0])
		}
	}
}

// TestRunJobDriverFlags: --driver job needs --job-image; the --job-*
// flags go with it only; bad names are bad input (exit 2), before the
// cluster is touched.
func TestRunJobDriverFlags(t *testing.T) {
	base := []string{"run", "--target", "v1.36", "--yes"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--driver", "job"}, "--job-image"},
		{[]string{"--driver", "job", "--job-image", " "}, "--job-image"},
		{[]string{"--driver", "job", "--job-image", "img", "--driver-command", "x"}, "--driver-command"},
		{[]string{"--driver", "job", "--job-image", "img", "--job-namespace", "Bad_NS"}, "--job-namespace"},
		{[]string{"--driver", "job", "--job-image", "img", "--job-service-account", "no way"}, "--job-service-account"},
		{[]string{"--driver", "kwok", "--job-image", "img"}, "--job-image needs --driver job"},
		{[]string{"--driver", "command", "--driver-command", "x", "--job-command", "y"}, "--job-command needs --driver job"},
		{[]string{"--job-namespace", "ns", "--dry-run"}, "--job-namespace needs --driver job"},
		{[]string{"--driver", "jobs"}, "is not kwok, command or job"},
	} {
		code, _, stderr := runOn(t, context.Background(), fakeCluster(t), false, "", append(append([]string{}, base...), tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d %q, want 2 and one line naming %s", tc.args, code, stderr, tc.want)
		}
	}
	// run --help describes the driver and its flags.
	_, help, _ := run(t, "", "run", "--help")
	for _, want := range []string{"  job      the executor in the cluster", "--job-image", "--job-command", "--job-namespace", "--job-service-account",
		"spec.nodeName", "operator Exists", "UPGATE_HOP_FROM", "backoffLimit 0", "activeDeadlineSeconds", "No\n           ttlSecondsAfterFinished"} {
		if !strings.Contains(help, want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
	// A dry run with the job driver says what its backup stage would run.
	code, out, stderr := runOn(t, context.Background(), fakeCluster(t), false, "", append(append([]string{}, base...), "--dry-run", "--driver", "job", "--job-image", "img:1", "--job-namespace", "upgate-system")...)
	if code != 0 || !strings.Contains(out, "would run a Job in namespace upgate-system with UPGATE_STAGE=etcd-backup (image img:1)") {
		t.Errorf("dry run: exit %d %q\n%s", code, stderr, out)
	}
}

// TestRunEtcdBackupFailureTouchesNoNode: an etcd that cannot be reached
// stops the run in its etcd-backup stage, exit 3 with one line saying so,
// before any node is touched; the record says why and lists no backup.
func TestRunEtcdBackupFailureTouchesNoNode(t *testing.T) {
	cs := fakeCluster(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "run.json")
	backups := filepath.Join(dir, "backups")
	code, out, stderr := runOn(t, context.Background(), cs, false, "", append(runArgs, "--yes", "--output", file,
		"--etcd-endpoints", "http://127.0.0.1:1", "--etcd-backup-dir", backups)...)
	if code != 3 || !strings.Contains(stderr, "etcd backup failed") || !strings.Contains(stderr, "127.0.0.1:1") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q; want 3 and one line naming the failed backup and its endpoint\n%s", code, stderr, out)
	}
	if testing.Verbose() {
		t.Logf("stderr: %s\nstdout:\n%s", stderr, out)
	}
	untouched(t, cs)
	rec := readRecord(t, file)
	if rec.Verdict != "failed" || !strings.Contains(rec.Reason, "etcd backup failed") || len(rec.EtcdBackups) != 0 {
		t.Errorf("record verdict %q reason %q backups %v", rec.Verdict, rec.Reason, rec.EtcdBackups)
	}
	for _, n := range rec.Nodes {
		if n.Outcome != "not-started" {
			t.Errorf("node %s outcome %s", n.Name, n.Outcome)
		}
	}
	if entries, _ := os.ReadDir(backups); len(entries) != 0 {
		t.Errorf("a failed snapshot left %d file(s)", len(entries))
	}
}

// TestRunEtcdFlags: the etcd flags are checked before anything happens,
// and a dry run says what the backup stage would do without taking one.
func TestRunEtcdFlags(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"a CA without endpoints": {"--etcd-cacert", "ca.crt"},
		"a cert without its key": {"--etcd-endpoints", "https://127.0.0.1:2379", "--etcd-cert", "c.crt"},
		"a CA file missing":      {"--etcd-endpoints", "https://127.0.0.1:2379", "--etcd-cacert", filepath.Join(dir, "none.crt")},
		"not an endpoint":        {"--etcd-endpoints", "etcd"},
	} {
		cs := fakeCluster(t)
		code, _, stderr := runOn(t, context.Background(), cs, false, "", append(append(runArgs, "--yes"), args...)...)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--etcd-") {
			t.Errorf("%s: exit %d, stderr %q; want 2 and one line naming the flag", name, code, stderr)
		}
		untouched(t, cs)
	}

	backups := filepath.Join(dir, "backups")
	file := filepath.Join(dir, "dry.json")
	code, out, stderr := runOn(t, context.Background(), nil, false, "", "run", "--dry-run", "--from", "testdata/cluster.yaml", "--target", "v1.36",
		"--etcd-endpoints", "http://127.0.0.1:1", "--etcd-backup-dir", backups, "--output", file)
	if code != 0 || !strings.Contains(out, "would take an etcd snapshot") || !strings.Contains(out, "FAIL") {
		t.Errorf("dry run: exit %d, stderr %q\n%s", code, stderr, out)
	}
	if _, err := os.Stat(backups); !os.IsNotExist(err) {
		t.Errorf("a dry run made the backup directory: %v", err)
	}
	if rec := readRecord(t, file); !strings.Contains(rec.EtcdBackupNote, "would take an etcd snapshot") {
		t.Errorf("dry run record note %q", rec.EtcdBackupNote)
	}
	code, out, _ = runOn(t, context.Background(), nil, false, "", "run", "--dry-run", "--from", "testdata/cluster.yaml", "--target", "v1.36")
	if code != 0 || !strings.Contains(out, "NO etcd backup would be taken") {
		t.Errorf("dry run without endpoints: exit %d\n%s", code, out)
	}
}

// TestRunFinishesANodeStoppedAfterItsDriver: a run killed, or cut off from
// the API server, after its driver upgraded the first control-plane node
// but before it could record so, leaves that node at upgate.dev/phase=
// upgrading with its kubelet and kube-apiserver at the target, newer than
// the other control-plane node's kube-apiserver. The next run must see its
// own half-way state there and finish the upgrade: skew.kubelet-newer is
// reported, ignored with the upgrade named, not blocking; the same node
// with no upgrade of upgate's under way is still blocked.
func TestRunFinishesANodeStoppedAfterItsDriver(t *testing.T) {
	halfway := func(t *testing.T, annotations map[string]string) *fake.Clientset {
		cs := fakeCluster(t)
		ctx := context.Background()
		n, err := cs.CoreV1().Nodes().Get(ctx, "cp-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.NodeInfo.KubeletVersion = "v1.36.0"
		n.Spec.Unschedulable = annotations != nil
		n.Annotations = annotations
		if _, err := cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		p, err := cs.CoreV1().Pods("kube-system").Get(ctx, "kube-apiserver-cp-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Spec.Containers[0].Image = "registry.k8s.io/kube-apiserver:v1.36.0"
		if _, err := cs.CoreV1().Pods("kube-system").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return cs
	}
	stopped := map[string]string{
		"upgate.dev/target": "v1.36", "upgate.dev/phase": "upgrading",
		"upgate.dev/cordoned-by": "upgate", "upgate.dev/holder": "a-killed-run",
		"upgate.dev/reason": "cordoned by upgate run to drain and upgrade it to v1.36 (stage etcd); uncordoned when done",
	}

	t.Run("no run of upgate's under way: the newer kubelet is flagged", func(t *testing.T) {
		cs := halfway(t, nil)
		code, out, _ := runOn(t, context.Background(), cs, false, "", "check", "--target", "v1.36")
		if code != 1 || !strings.Contains(out, "skew.kubelet-newer") || !strings.Contains(out, "cp-1") {
			t.Errorf("exit %d; want 1 with skew.kubelet-newer on cp-1:\n%s", code, out)
		}
	})
	t.Run("the run's own half-way state: check passes and the run finishes", func(t *testing.T) {
		cs := halfway(t, stopped)
		code, out, stderr := runOn(t, context.Background(), cs, false, "", "check", "--target", "v1.36", "--format", "json")
		var rep struct {
			Findings []struct {
				Check, Node, IgnoredBy string
				Ignored                bool
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
			t.Fatalf("check: exit %d (%v), stderr %q; want 0:\n%s", code, err, stderr, out)
		}
		// The finding is still reported, as the contract's check says, but
		// ignored, naming the upgrade under way.
		reported := false
		for _, f := range rep.Findings {
			if f.Check == "skew.kubelet-newer" && f.Node == "cp-1" {
				reported = f.Ignored && strings.Contains(f.IgnoredBy, "node cp-1 is being upgraded to v1.36")
			}
		}
		if !reported {
			t.Errorf("skew.kubelet-newer on cp-1 not reported ignored for the upgrade under way:\n%s", out)
		}
		code, out, stderr = runOn(t, context.Background(), cs, false, "", append(runArgs, "--yes")...)
		if code != 0 {
			t.Fatalf("the resumed run: exit %d, stderr %q\n%s", code, stderr, out)
		}
		if !strings.Contains(out, "in flight at phase upgrading") {
			t.Errorf("the run did not say it resumed cp-1:\n%s", out)
		}
		nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes.Items {
			if n.Annotations["upgate.dev/phase"] != "done" || n.Spec.Unschedulable || n.Status.NodeInfo.KubeletVersion != "v1.36.0" {
				t.Errorf("node %s: phase %q, unschedulable %t, kubelet %s; want done, schedulable, v1.36.0",
					n.Name, n.Annotations["upgate.dev/phase"], n.Spec.Unschedulable, n.Status.NodeInfo.KubeletVersion)
			}
		}
	})
}
