package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/synth"
)

// TestCompactDumpKeepsFindings: the compact dump (synth.FormatCompact,
// small objects) loses nothing the checks read. `upgate check` on it gives
// the same object counts and the same findings, byte for byte in JSON, as
// on the full kubectl List, on the real-shaped one (managedFields,
// unindented) and on the snapshot of the same cluster. The cluster is
// spoilt a little first (a cordoned node, one not ready, one under disk
// pressure, crash-looping and pending pods, an unavailable Deployment),
// and checked against two targets (v1.37 puts the older kubelets out of
// skew), so that health and skew findings are compared beside safety's.
func TestCompactDumpKeepsFindings(t *testing.T) {
	dir := t.TempDir()
	write := func(format string, mf bool) string {
		inv := synth.Cluster(synth.Options{Nodes: 60, PodsPerNode: 30, ManagedFields: mf})
		spoil(inv)
		path := filepath.Join(dir, fmt.Sprintf("%s-%v.json", format, mf))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		switch format {
		case synth.FormatSnapshot:
			err = synth.WriteSnapshot(f, inv)
		default:
			err = synth.WriteManifests(f, inv, synth.ManifestOptions{
				Compact: format == synth.FormatCompact, Unindented: format == synth.FormatAPIServer})
		}
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	files := map[string]string{
		synth.FormatCompact:   write(synth.FormatCompact, false),
		synth.FormatManifests: write(synth.FormatManifests, false),
		synth.FormatAPIServer: write(synth.FormatAPIServer, true),
		synth.FormatSnapshot:  write(synth.FormatSnapshot, false),
	}
	for _, target := range []string{"v1.36", "v1.37"} {
		reports := map[string]*finding.Report{}
		for format, path := range files {
			code, out, errOut := run(t, "", "check", "--from", path, "--target", target, "--format", "json")
			if code != ExitPassed && code != ExitBlocked {
				t.Fatalf("check %s: exit %d: %s", format, code, errOut)
			}
			var rep finding.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("check %s: %v", format, err)
			}
			reports[format] = &rep
		}
		compact := reports[synth.FormatCompact]
		checks := map[string]int{}
		for _, f := range compact.Findings {
			checks[f.Check]++
		}
		for _, want := range []string{"safety.emptydir", "health.node-not-ready", "health.node-cordoned", "health.pod-not-running", "health.workload-unavailable"} {
			if checks[want] == 0 {
				t.Errorf("target %s: no %s finding: the comparison would not cover it (%v)", target, want, checks)
			}
		}
		for _, other := range []string{synth.FormatManifests, synth.FormatAPIServer, synth.FormatSnapshot} {
			r := reports[other]
			if !reflect.DeepEqual(compact.Input.Counts, r.Input.Counts) {
				t.Errorf("counts: compact %v, %s %v", compact.Input.Counts, other, r.Input.Counts)
			}
			a, _ := json.Marshal(compact.Findings)
			b, _ := json.Marshal(r.Findings)
			if string(a) != string(b) {
				t.Errorf("target %s: compact gives %d findings (%+v), %s %d (%+v): they differ",
					target, len(compact.Findings), compact.Summary, other, len(r.Findings), r.Summary)
				for i := range min(len(compact.Findings), len(r.Findings)) {
					if x, y := compact.Findings[i], r.Findings[i]; !reflect.DeepEqual(x, y) {
						t.Errorf("first difference, finding %d:\ncompact: %+v\n%s: %+v", i, x, other, y)
						break
					}
				}
			}
			if !reflect.DeepEqual(compact.Checks, r.Checks) || compact.Verdict != r.Verdict {
				t.Errorf("checks or verdict differ: compact %s, %s %s", compact.Verdict, other, r.Verdict)
			}
		}
		t.Logf("target %s: %d findings: %v", target, len(compact.Findings), checks)
	}
	// And the compact file is what its name says: much smaller.
	sizes := map[string]int64{}
	for f, path := range files {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		sizes[f] = st.Size()
	}
	if sizes[synth.FormatCompact]*3 > sizes[synth.FormatAPIServer] {
		t.Errorf("compact is %d bytes, the real-shaped dump %d: not a third of it", sizes[synth.FormatCompact], sizes[synth.FormatAPIServer])
	}
	t.Logf("sizes: %v", sizes)
}

// spoil gives a synthetic cluster what health checks report: a cordoned
// node, a node not ready, one under disk pressure, a crash-looping and a
// pending pod, and a Deployment with no ready replica.
func spoil(inv *synth.State) {
	n := inv.Nodes
	n[10].Spec.Unschedulable = true
	for i := range n[11].Status.Conditions {
		c := &n[11].Status.Conditions[i]
		switch c.Type {
		case corev1.NodeReady:
			c.Status, c.Reason, c.Message = corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready"
		}
	}
	for i := range n[12].Status.Conditions {
		if c := &n[12].Status.Conditions[i]; c.Type == corev1.NodeDiskPressure {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure"
		}
	}
	var crash, pending bool
	for _, p := range inv.Pods {
		if len(p.OwnerReferences) == 0 || p.OwnerReferences[0].Kind != "ReplicaSet" || len(p.Status.ContainerStatuses) == 0 {
			continue
		}
		switch {
		case !crash:
			crash = true
			cs := &p.Status.ContainerStatuses[0]
			cs.Ready, cs.RestartCount = false, 12
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 5m0s"}}
		case !pending:
			pending = true
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses[0].Ready = false
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}
		}
	}
	d := inv.Deployments[len(inv.Deployments)/2]
	d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0
}

// TestSnapshotVersionsKeepFindings: a v1alpha1 snapshot and the current
// snapshot of the same state give the same findings, byte for byte in
// JSON, and the same counts, at two targets. Two v1alpha1 files, both
// written by that version's writer:
//   - inventory/testdata/v1alpha1.snapshot: a spoilt cluster (nodes not
//     ready and cordoned) with API usages at other versions;
//   - testdata/snapshot-v1alpha1.json: a synthetic cluster written before
//     pods were kept as the model's Pod (each pod whole), which the current
//     snapshot writes in a third of the bytes or less (a fifth at 5,000
//     nodes, docs/performance.md).
func TestSnapshotVersionsKeepFindings(t *testing.T) {
	for _, tc := range []struct {
		file     string
		findings []string // checks the comparison must cover
		shrinks  int64    // the current snapshot is at most 1/shrinks of the old
	}{
		{"../inventory/testdata/v1alpha1.snapshot", []string{"health.node-not-ready", "health.node-cordoned"}, 1},
		{"testdata/snapshot-v1alpha1.json", []string{"safety.etcd-quorum", "safety.single-control-plane"}, 3},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			inv, err := inventory.Read([]string{tc.file}, nil)
			if err != nil {
				t.Fatal(err)
			}
			current := filepath.Join(t.TempDir(), "current.json")
			f, err := os.Create(current)
			if err != nil {
				t.Fatal(err)
			}
			if err := inv.WriteSnapshot(f); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			oldSize, newSize := fileSize(t, tc.file), fileSize(t, current)
			if newSize*tc.shrinks > oldSize {
				t.Errorf("the current snapshot is %d bytes, the v1alpha1 one %d: want at most 1/%d of it", newSize, oldSize, tc.shrinks)
			}
			for _, target := range []string{"v1.36", "v1.37"} {
				var reports []finding.Report
				for _, path := range []string{tc.file, current} {
					code, out, errOut := run(t, "", "check", "--from", path, "--target", target, "--format", "json")
					if code != ExitPassed && code != ExitBlocked {
						t.Fatalf("check %s: exit %d: %s", path, code, errOut)
					}
					var rep finding.Report
					if err := json.Unmarshal([]byte(out), &rep); err != nil {
						t.Fatalf("check %s: %v", path, err)
					}
					reports = append(reports, rep)
				}
				old, cur := reports[0], reports[1]
				checks := map[string]int{}
				for _, f := range old.Findings {
					checks[f.Check]++
				}
				for _, want := range tc.findings {
					if checks[want] == 0 {
						t.Errorf("target %s: no %s finding: the comparison would not cover it (%v)", target, want, checks)
					}
				}
				a, _ := json.Marshal(old.Findings)
				b, _ := json.Marshal(cur.Findings)
				if string(a) != string(b) {
					t.Errorf("target %s: v1alpha1 gives\n%s\nthe current snapshot gives\n%s", target, a, b)
				}
				if !reflect.DeepEqual(old.Input.Counts, cur.Input.Counts) || old.Verdict != cur.Verdict {
					t.Errorf("target %s: counts or verdict differ: %v %s, %v %s", target, old.Input.Counts, old.Verdict, cur.Input.Counts, cur.Verdict)
				}
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
