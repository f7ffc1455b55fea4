package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

// Snapshots written before pod templates (upgate.dev/v1alpha1, each pod
// whole; testdata/snapshot-v1alpha1.json was written by that version)
// are still read, and give the same report as the current snapshot of
// the same state, at two targets.
func TestOldSnapshotsGiveTheSameReport(t *testing.T) {
	const old = "testdata/snapshot-v1alpha1.json"
	inv, err := inventory.Read([]string{old}, nil)
	if err != nil {
		t.Fatal(err)
	}
	current := filepath.Join(t.TempDir(), "snapshot.json")
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
	var head struct{ APIVersion string }
	if b, err := os.ReadFile(current); err != nil || json.Unmarshal(b, &head) != nil || head.APIVersion != inventory.SnapshotAPIVersion {
		t.Fatalf("rewritten snapshot is %q (%v), want %s", head.APIVersion, err, inventory.SnapshotAPIVersion)
	}
	oldSize, newSize := fileSize(t, old), fileSize(t, current)
	// At 5,000 nodes the current snapshot is a fifth of v1alpha1's
	// (docs/performance.md); at five it is a quarter.
	if newSize*3 > oldSize {
		t.Errorf("the current snapshot is %d bytes, the v1alpha1 one %d: want at most a third", newSize, oldSize)
	}
	for _, target := range []string{"v1.36", "v1.37"} {
		reports := map[string]finding.Report{}
		for _, path := range []string{old, current} {
			code, out, errOut := run(t, "", "check", "--from", path, "--target", target, "--format", "json")
			if code != ExitPassed && code != ExitBlocked {
				t.Fatalf("check --from %s: exit %d: %s", path, code, errOut)
			}
			var rep finding.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			reports[path] = rep
		}
		a, b := reports[old], reports[current]
		if len(a.Findings) == 0 {
			t.Fatalf("target %s: no findings: the comparison would show nothing", target)
		}
		fa, _ := json.Marshal(a.Findings)
		fb, _ := json.Marshal(b.Findings)
		if string(fa) != string(fb) || a.Verdict != b.Verdict || !reflect.DeepEqual(a.Input.Counts, b.Input.Counts) {
			t.Errorf("target %s: v1alpha1 gives %s with %d findings %v, the current snapshot %s with %d %v",
				target, a.Verdict, len(a.Findings), a.Input.Counts, b.Verdict, len(b.Findings), b.Input.Counts)
		}
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
