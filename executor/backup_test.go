package executor

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/upgate-dev/upgate/etcdsnapshot"
)

// fakeSnapshotter stands in for etcdsnapshot.Saver: it returns snap, or
// fails with err, and counts its calls.
type fakeSnapshotter struct {
	snap  *etcdsnapshot.Snapshot
	err   error
	calls int
}

func (f *fakeSnapshotter) Save(context.Context) (*etcdsnapshot.Snapshot, error) {
	f.calls++
	return f.snap, f.err
}

func (f *fakeSnapshotter) String() string { return "etcd https://127.0.0.1:2379 into /backups" }

// envDriver is a fakeDriver whose EtcdBackup remembers the snapshot upgate
// took before it.
type envDriver struct {
	fakeDriver
	snapshot string
}

func (d *envDriver) EtcdBackup(ctx context.Context) error {
	d.snapshot = EtcdSnapshotOf(ctx)
	return d.fakeDriver.EtcdBackup(ctx)
}

func backupCluster() *fake.Clientset {
	return fake.NewClientset(
		liveNode("cp-1", "v1.36.3", nil, false),
		liveNode("w-1", "v1.36.3", nil, false),
	)
}

// TestFailedSnapshotTouchesNoNode: when upgate's own etcd snapshot fails,
// the run stops with ErrBackupFailed before the driver's backup and before
// any node: no annotation, no cordon, no driver call.
func TestFailedSnapshotTouchesNoNode(t *testing.T) {
	cs := backupCluster()
	d := &fakeDriver{client: cs}
	r, out := newTestRunner(t, cs, d, noFindings)
	r.Snapshotter = &fakeSnapshotter{err: errors.New("no etcd snapshot could be taken: https://127.0.0.1:2379: connection refused")}
	res, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrBackupFailed) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err %v, want ErrBackupFailed naming the cause\n%s", err, out)
	}
	if len(d.calls) != 0 {
		t.Errorf("driver calls %v after the snapshot failed", d.calls)
	}
	for _, name := range []string{"cp-1", "w-1"} {
		n, _ := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if len(n.Annotations) != 0 || n.Spec.Unschedulable {
			t.Errorf("%s touched: annotations %v, unschedulable %t", name, n.Annotations, n.Spec.Unschedulable)
		}
	}
	if len(res.Backups) != 0 || len(res.Outcomes) != 0 {
		t.Errorf("result %+v", res)
	}
	rec := NewRunRecord(RecordInput{Plan: plan("w-1"), Result: res, Err: err})
	if rec.Verdict != RunFailed || !strings.Contains(rec.Reason, "etcd backup failed") {
		t.Errorf("record verdict %q reason %q", rec.Verdict, rec.Reason)
	}
}

// TestSnapshotBeforeDriverBackup: upgate's snapshot comes first, is in the
// result with its path and size, and the driver's hook is still called,
// knowing where the snapshot is.
func TestSnapshotBeforeDriverBackup(t *testing.T) {
	cs := backupCluster()
	d := &envDriver{fakeDriver: fakeDriver{client: cs}}
	r, out := newTestRunner(t, cs, d, noFindings)
	snap := &etcdsnapshot.Snapshot{Path: "/backups/etcd-snapshot-20261202T101500Z.db", Size: 20512, Endpoint: "https://127.0.0.1:2379", EtcdVersion: "3.6.16", Revision: 42, SHA256: "ab"}
	fs := &fakeSnapshotter{snap: snap}
	r.Snapshotter = fs
	res, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if fs.calls != 1 || d.snapshot != snap.Path {
		t.Errorf("snapshots %d, the driver's backup saw %q", fs.calls, d.snapshot)
	}
	if got := strings.Join(d.calls, " "); got != "backup etcd/cp-1 workers/w-1" {
		t.Errorf("driver calls %q", got)
	}
	if len(res.Backups) != 2 || res.Backups[1].TakenBy != BackupByDriver {
		t.Fatalf("backups %+v, want upgate's snapshot, then the driver's", res.Backups)
	}
	b := res.Backups[0]
	if b.TakenBy != BackupByUpgate || b.Location != snap.Path || b.SizeBytes != 20512 || b.Revision != 42 || b.EtcdVersion != "3.6.16" || b.Hop != "v1.37" || b.FinishedAt.Before(b.StartedAt) {
		t.Errorf("backup %+v", b)
	}
	if s := out.String(); !strings.Contains(s, snap.Path) || !strings.Contains(s, "20512 bytes") {
		t.Errorf("output does not say where the snapshot is and its size:\n%s", s)
	}
}

// noBackupDriver takes no backup, as the kwok driver.
type noBackupDriver struct{ fakeDriver }

func (*noBackupDriver) LastBackup() (string, bool) { return "", false }

// TestNoBackupIsSaidPlainly: neither a snapshot nor a driver backup: the
// run goes on, and the output and the record say no backup was taken.
func TestNoBackupIsSaidPlainly(t *testing.T) {
	cs := backupCluster()
	d := &noBackupDriver{fakeDriver{client: cs}}
	r, out := newTestRunner(t, cs, d, noFindings)
	res, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "NO etcd backup was taken") {
		t.Errorf("output does not say no backup was taken:\n%s", out)
	}
	rec := NewRunRecord(RecordInput{Plan: plan("w-1"), Result: res})
	if len(rec.EtcdBackups) != 0 || !strings.Contains(rec.EtcdBackupNote, "no etcd backup was taken") || !strings.Contains(rec.EtcdBackupNote, "--etcd-endpoints") {
		t.Errorf("record backups %+v note %q", rec.EtcdBackups, rec.EtcdBackupNote)
	}

	// With a snapshot, a driver that takes none adds no note.
	cs = backupCluster()
	d = &noBackupDriver{fakeDriver{client: cs}}
	r, out = newTestRunner(t, cs, d, noFindings)
	r.Snapshotter = &fakeSnapshotter{snap: &etcdsnapshot.Snapshot{Path: "/b/s.db", Size: 1}}
	res, err = r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if res.BackupNote != "" || len(res.Backups) != 1 || strings.Contains(out.String(), "NO etcd backup") {
		t.Errorf("with a snapshot: backups %+v note %q\n%s", res.Backups, res.BackupNote, out)
	}
}

// TestDryRunTakesNoSnapshot: a dry run says it would take one, and does not.
func TestDryRunTakesNoSnapshot(t *testing.T) {
	cs := backupCluster()
	d := &fakeDriver{client: cs}
	r, out := newTestRunner(t, cs, d, noFindings)
	r.DryRun = true
	fs := &fakeSnapshotter{snap: &etcdsnapshot.Snapshot{}}
	r.Snapshotter = fs
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if fs.calls != 0 || len(d.calls) != 0 || !strings.Contains(out.String(), "would take an etcd snapshot") {
		t.Errorf("snapshots %d, driver calls %v; output:\n%s", fs.calls, d.calls, out)
	}
}

// TestCommandDriverGetsTheSnapshot: the command driver's etcd-backup call
// has the snapshot's path in UPGATE_ETCD_SNAPSHOT.
func TestCommandDriverGetsTheSnapshot(t *testing.T) {
	var out bytes.Buffer
	d := &CommandDriver{Command: `echo "got $UPGATE_ETCD_SNAPSHOT"`, Out: &out, ErrOut: &out}
	ctx := context.WithValue(context.Background(), snapshotKey{}, "/b/etcd-snapshot-x.db")
	if err := d.EtcdBackup(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "got /b/etcd-snapshot-x.db") {
		t.Errorf("output %q", &out)
	}
}
