package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/upgate-dev/upgate/inventory"
)

// setDiskPressure marks a fake node DiskPressure=True.
func setDiskPressure(t *testing.T, cs *fake.Clientset, name string) {
	t.Helper()
	ctx := context.Background()
	n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue})
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// snapshotWithStats writes testdata/cluster.yaml as a snapshot carrying
// kubelet stats summaries: worker-2 has 300 MB free, cp-2's summary was
// forbidden, the others have room.
func snapshotWithStats(t *testing.T) string {
	t.Helper()
	inv, err := inventory.Read([]string{"testdata/cluster.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	free := func(n uint64) *uint64 { return &n }
	inv.NodeStats = []inventory.NodeStat{
		{Node: "cp-1", AvailableBytes: free(40e9), CapacityBytes: free(100e9)},
		{Node: "cp-2", Error: "forbidden: reading it needs get on nodes/proxy"},
		{Node: "worker-1", AvailableBytes: free(40e9), CapacityBytes: free(100e9)},
		{Node: "worker-2", AvailableBytes: free(300e6), CapacityBytes: free(100e9)},
	}
	path := filepath.Join(t.TempDir(), "snap.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := inv.WriteSnapshot(f); err != nil {
		t.Fatal(err)
	}
	return path
}

// The readiness check health.node-disk-free closes the run's gate before
// any node is touched, dry run included, and the output says which source
// each node was judged by.
func TestRunReadinessDiskFree(t *testing.T) {
	const fallback = "node worker-1 reports DiskPressure=True: its root filesystem may have less than the 1 GB the upgrade needs; source: DiskPressure condition, because the kubelet stats summary could not be read (the client has no REST client for the node proxy)"

	t.Run("DiskPressure blocks a dry run when the summary cannot be read", func(t *testing.T) {
		cs := fakeCluster(t)
		setDiskPressure(t, cs, "worker-1")
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(runArgs, "--dry-run")...)
		if code != 1 || !strings.Contains(stderr, "the gate is closed") {
			t.Errorf("exit %d, stderr %q; want 1, gate closed", code, stderr)
		}
		if !strings.Contains(out, "GATE CLOSED worker-1: "+fallback) {
			t.Errorf("the dry run does not show the finding:\n%s", out)
		}
		if !strings.Contains(out, "Readiness (health.node-disk-free, 1 GB free on each node's root filesystem): kubelet stats summary on 0 of 4 nodes; DiskPressure condition on cp-1, cp-2, worker-1, worker-2 (stats summary not read: the client has no REST client for the node proxy).") {
			t.Errorf("no readiness line naming the sources:\n%s", out)
		}
		untouched(t, cs)
	})

	t.Run("and the run itself, before any node", func(t *testing.T) {
		cs := fakeCluster(t)
		setDiskPressure(t, cs, "worker-1")
		code, out, _ := runOn(t, context.Background(), cs, false, "", append(runArgs, "--yes")...)
		if code != 1 || !strings.Contains(out, fallback) {
			t.Errorf("exit %d, want 1 showing the finding:\n%s", code, out)
		}
		untouched(t, cs)
	})

	t.Run("--node-stats=false judges by DiskPressure only", func(t *testing.T) {
		cs := fakeCluster(t)
		setDiskPressure(t, cs, "worker-1")
		code, out, _ := runOn(t, context.Background(), cs, false, "", append(runArgs, "--dry-run", "--node-stats=false")...)
		if code != 1 || !strings.Contains(out, "source: DiskPressure condition, because the kubelet stats summary was not collected") ||
			!strings.Contains(out, "kubelet stats summaries not collected; judged by each node's DiskPressure condition.") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})

	t.Run("a healthy cluster passes and says so", func(t *testing.T) {
		code, out, stderr := runOn(t, context.Background(), fakeCluster(t), false, "", append(runArgs, "--dry-run")...)
		if code != 0 || strings.Contains(out, "GATE CLOSED") || !strings.Contains(out, "Readiness (health.node-disk-free") {
			t.Errorf("exit %d, stderr %q:\n%s", code, stderr, out)
		}
	})

	snap := snapshotWithStats(t)
	const low = "node worker-2 has 300000000 bytes (300 MB of 100000 MB) free on its root filesystem, less than the 1 GB (1000000000 bytes) the upgrade needs; source: kubelet stats summary"

	t.Run("a snapshot's summaries replay with --from", func(t *testing.T) {
		code, out, _ := run(t, "", "run", "--dry-run", "--from", snap, "--target", "v1.36")
		if code != 1 || !strings.Contains(out, "GATE CLOSED worker-2: "+low) {
			t.Errorf("exit %d, want 1 naming worker-2:\n%s", code, out)
		}
		if !strings.Contains(out, "kubelet stats summary on 3 of 4 nodes; DiskPressure condition on cp-2 (stats summary not read: forbidden: reading it needs get on nodes/proxy).") {
			t.Errorf("readiness line:\n%s", out)
		}
		code, out, _ = run(t, "", "run", "--dry-run", "--format", "json", "--from", snap, "--target", "v1.36")
		var p struct {
			Verdict  string
			Findings []struct{ Check, Node, Message string }
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		found := false
		for _, f := range p.Findings {
			found = found || (f.Check == "health.node-disk-free" && f.Node == "worker-2" && f.Message == low)
		}
		if code != 1 || p.Verdict != "blocked" || !found {
			t.Errorf("plan report: exit %d, verdict %s, findings %+v", code, p.Verdict, p.Findings)
		}
	})

	t.Run("check reports it", func(t *testing.T) {
		code, out, _ := run(t, "", "check", "--from", snap, "--target", "v1.36", "--format", "json")
		if code != 1 || !strings.Contains(out, low) {
			t.Errorf("check: exit %d:\n%s", code, out)
		}
	})

	t.Run("snapshot --node-stats records them", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "live.json")
		if code, _, stderr := runOn(t, context.Background(), fakeCluster(t), false, "", "snapshot", "--node-stats", "-o", path); code != 0 {
			t.Fatalf("snapshot: exit %d: %s", code, stderr)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), `"nodeStats":[{"node":"cp-1","error":"the client has no REST client for the node proxy"}`) {
			t.Errorf("snapshot without the node stats:\n%.800s", data)
		}
		if code, _, stderr := runOn(t, context.Background(), fakeCluster(t), false, "", "snapshot", "-o", path); code != 0 {
			t.Fatalf("snapshot: exit %d: %s", code, stderr)
		}
		if data, _ := os.ReadFile(path); strings.Contains(string(data), "nodeStats") {
			t.Error("snapshot without --node-stats carries node stats")
		}
	})
}

// The readiness line groups nodes by why their summary was not read and
// stays short on a large cluster.
func TestDiskReadinessLine(t *testing.T) {
	inv := &inventory.Inventory{}
	free := uint64(50e9)
	for i := range 12 {
		name := fmt.Sprintf("n%02d", i)
		inv.Nodes = append(inv.Nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
		switch {
		case i < 2:
			inv.NodeStats = append(inv.NodeStats, inventory.NodeStat{Node: name, AvailableBytes: &free})
		case i < 9:
			inv.NodeStats = append(inv.NodeStats, inventory.NodeStat{Node: name, Error: "HTTP 400: address not allowed"})
		default:
			inv.NodeStats = append(inv.NodeStats, inventory.NodeStat{Node: name, Error: fmt.Sprintf("reason %d", i)})
		}
	}
	got := diskReadiness(inv)
	want := "Readiness (health.node-disk-free, 1 GB free on each node's root filesystem): kubelet stats summary on 2 of 12 nodes" +
		"; DiskPressure condition on n02, n03, n04, n05, n06 and 2 more (stats summary not read: HTTP 400: address not allowed)" +
		"; DiskPressure condition on n09 (stats summary not read: reason 9)" +
		"; DiskPressure condition on n10 (stats summary not read: reason 10)" +
		"; DiskPressure condition on 1 more nodes, for 1 other reasons."
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
