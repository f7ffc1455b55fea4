//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// diskFinding is a finding with its message, as the Plan and Report JSON
// write it.
type diskFinding struct {
	Check, Node, Message, Severity string
	Scope                          []string
}

func diskFindings(t *testing.T, out string) []diskFinding {
	t.Helper()
	var doc struct{ Findings []diskFinding }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	var fs []diskFinding
	for _, f := range doc.Findings {
		if f.Check == "health.node-disk-free" {
			fs = append(fs, f)
		}
	}
	return fs
}

// setDiskPressure sets worker's DiskPressure condition through the status
// subresource (a strategic merge keyed by type: the other conditions
// stay). kwok rewrites conditions only at its node heartbeat, minutes
// apart with node leases.
func setDiskPressure(t *testing.T, node string, on bool) {
	t.Helper()
	cond := `{"type":"DiskPressure","status":"False","reason":"KubeletHasNoDiskPressure","message":"kubelet has no disk pressure"}`
	if on {
		cond = `{"type":"DiskPressure","status":"True","reason":"KubeletHasDiskPressure","message":"e2e: the root filesystem is nearly full"}`
	}
	kubectl(t, "", "patch", "node", node, "--subresource=status", "-p", `{"status":{"conditions":[`+cond+`]}}`)
}

func diskPressure(t *testing.T, node string) corev1.ConditionStatus {
	t.Helper()
	for _, c := range getNode(t, node).Status.Conditions {
		if c.Type == corev1.NodeDiskPressure {
			return c.Status
		}
	}
	return ""
}

// The run's readiness: a node with DiskPressure=True blocks `upgate run
// --dry-run` before any node is touched, naming the node and the source.
// kwok (v0.8.0) serves no kubelet stats summary, so this is the
// DiskPressure fallback, with the reason the summary could not be read.
func TestRunReadinessDiskPressureFallback(t *testing.T) {
	const node = "worker-1"
	cfg := runConfig(t)
	t.Cleanup(func() {
		setDiskPressure(t, node, false)
		if got := diskPressure(t, node); got != corev1.ConditionFalse {
			t.Errorf("%s DiskPressure=%s after the test, want False", node, got)
		}
	})
	setDiskPressure(t, node, true)
	if got := diskPressure(t, node); got != corev1.ConditionTrue {
		t.Fatalf("%s DiskPressure=%s after the patch, want True", node, got)
	}

	const source = "source: DiskPressure condition, because the kubelet stats summary could not be read ("
	var reason string
	t.Run("dry run blocks naming the node and the source", func(t *testing.T) {
		code, out, _ := runUpgate(t, cfg, "--dry-run")
		if code != 1 {
			t.Errorf("exit %d, want 1 (blocked)", code)
		}
		i := strings.Index(out, "Readiness (health.node-disk-free")
		if i < 0 || strings.Index(out, "Hop 1/") < i {
			t.Errorf("no readiness line before the steps:\n%s", out)
		} else {
			line := out[i : i+strings.Index(out[i:], "\n")]
			t.Logf("readiness: %s", line)
			if !strings.Contains(line, "kubelet stats summary on 0 of ") || !strings.Contains(line, "DiskPressure condition on ") {
				t.Errorf("readiness line does not name the fallback: %s", line)
			}
		}

		code, out, _ = runUpgate(t, cfg, "--dry-run", "--format", "json")
		if code != 1 {
			t.Errorf("json: exit %d, want 1", code)
		}
		fs := diskFindings(t, out)
		if len(fs) != 1 || fs[0].Node != node || fs[0].Severity != "block" {
			t.Fatalf("health.node-disk-free findings %+v, want one blocking about %s", fs, node)
		}
		msg := fs[0].Message
		t.Logf("finding: %s", msg)
		if !strings.HasPrefix(msg, "node "+node+" reports DiskPressure=True") || !strings.Contains(msg, source) {
			t.Errorf("message does not name the node and the DiskPressure source: %s", msg)
		}
		if i := strings.Index(msg, source); i >= 0 {
			reason = strings.TrimSuffix(msg[i+len(source):], ")")
		}
		for _, name := range allNodes {
			n := getNode(t, name)
			for k := range n.Annotations {
				if strings.HasPrefix(k, "upgate.dev/") {
					t.Errorf("node %s got annotation %s in a dry run", name, k)
				}
			}
			if n.Spec.Unschedulable {
				t.Errorf("node %s cordoned in a dry run", name)
			}
		}
	})

	t.Run("a snapshot with --node-stats replays the reason", func(t *testing.T) {
		snap := filepath.Join(t.TempDir(), "snap.json")
		if code, _, stderr := upgate(t, "snapshot", "--node-stats", "-o", snap); code != 0 {
			t.Fatalf("snapshot: exit %d: %s", code, stderr)
		}
		data, err := os.ReadFile(snap)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			NodeStats []struct {
				Node, Error    string
				AvailableBytes *uint64
			}
		}
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		if len(s.NodeStats) < len(allNodes) {
			t.Fatalf("snapshot nodeStats %+v, want every node", s.NodeStats)
		}
		for _, st := range s.NodeStats {
			t.Logf("stats summary of %s: available %v, error %q", st.Node, st.AvailableBytes, st.Error)
		}
		_, out, _ := upgate(t, "check", "--from", snap, "--target", runTarget, "--format", "json")
		fs := diskFindings(t, out)
		if len(fs) != 1 || fs[0].Node != node || !strings.Contains(fs[0].Message, source) {
			t.Errorf("check --from the snapshot: %+v", fs)
		}
		if reason != "" && len(fs) == 1 && !strings.Contains(fs[0].Message, reason) {
			t.Errorf("replayed reason differs: %s, want %s", fs[0].Message, reason)
		}
	})

	t.Run("without DiskPressure the check is silent", func(t *testing.T) {
		setDiskPressure(t, node, false)
		_, out, _ := runUpgate(t, cfg, "--dry-run", "--format", "json")
		if fs := diskFindings(t, out); len(fs) != 0 {
			t.Errorf("health.node-disk-free without DiskPressure: %+v", fs)
		}
	})
}
