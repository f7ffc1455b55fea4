package executor

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/upgate-dev/upgate/etcdsnapshot"
)

// BackupLocationPrefix starts the line a command driver prints on its
// stdout, while UPGATE_STAGE=etcd-backup, to say where it keeps the
// backup: UPGATE_BACKUP_LOCATION=s3://backups/etcd-2026-11-26.db. The run
// record lists it; without it the record says the location is unknown.
const BackupLocationPrefix = "UPGATE_BACKUP_LOCATION="

var (
	_ BackupReporter = (*KwokDriver)(nil)
	_ BackupReporter = (*CommandDriver)(nil)
)

// LastBackup: the kwok driver takes none.
func (d *KwokDriver) LastBackup() (string, bool) { return "", false }

// LastBackup returns the location the command's last etcd-backup run
// printed (its last BackupLocationPrefix line), "" when it printed none.
func (d *CommandDriver) LastBackup() (string, bool) {
	return d.backup.location(), true
}

// backupScanner watches a command's stdout for BackupLocationPrefix lines.
type backupScanner struct {
	mu  sync.Mutex
	buf []byte
	loc string
}

func (b *backupScanner) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf, b.loc = nil, ""
}

func (b *backupScanner) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	for {
		i := bytes.IndexByte(b.buf, '\n')
		if i < 0 {
			break
		}
		b.line(string(b.buf[:i]))
		b.buf = b.buf[i+1:]
	}
	return len(p), nil
}

func (b *backupScanner) line(l string) {
	if v, ok := strings.CutPrefix(strings.TrimSpace(l), BackupLocationPrefix); ok && strings.TrimSpace(v) != "" {
		b.loc = strings.TrimSpace(v)
	}
}

func (b *backupScanner) location() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > 0 {
		b.line(string(b.buf))
		b.buf = nil
	}
	return b.loc
}

// EtcdSnapshotter takes upgate's own etcd snapshot (etcdsnapshot.Saver,
// through etcd's client library): a whole, checked file that it never
// deletes. String says where from and where to, for the output.
type EtcdSnapshotter interface {
	Save(ctx context.Context) (*etcdsnapshot.Snapshot, error)
	String() string
}

var _ EtcdSnapshotter = (*etcdsnapshot.Saver)(nil)

// Who took a backup, in the run record.
const (
	BackupByUpgate = "upgate" // its own snapshot (--etcd-endpoints)
	BackupByDriver = "driver" // the driver's EtcdBackup
)

type snapshotKey struct{}

// EtcdSnapshotOf is the path of the snapshot upgate took just before the
// driver's EtcdBackup is called, "" when it took none. The command driver
// passes it on as UPGATE_ETCD_SNAPSHOT (to copy it off the machine, say).
func EtcdSnapshotOf(ctx context.Context) string {
	p, _ := ctx.Value(snapshotKey{}).(string)
	return p
}

// backupEtcd is a hop's etcd-backup stage, before any node of the hop is
// touched: upgate's own snapshot when a Snapshotter is set, then the
// driver's EtcdBackup. Either failing stops the run with ErrBackupFailed
// (or ErrStopped) before the etcd and control-plane nodes; a run that
// takes no backup at all goes on, and says so plainly.
func (r *Runner) backupEtcd(ctx context.Context, ref HopRef, ht Target, res *Result) error {
	before := len(res.Backups)
	if r.Snapshotter != nil {
		r.printf("[%s] taking an etcd snapshot: %s\n", StageEtcdBackup, r.Snapshotter)
		start := r.Now().UTC()
		var snap *etcdsnapshot.Snapshot
		err := r.callDriver(ctx, StageEtcdBackup, func(ctx context.Context) error {
			var err error
			snap, err = r.Snapshotter.Save(ctx)
			return err
		})
		if err != nil {
			if serr := r.stopped(ctx); serr != nil {
				return fmt.Errorf("%w: %s: before the etcd snapshot finished, no node of the hop was touched", serr, ref)
			}
			return fmt.Errorf("%w: %s: the etcd snapshot failed, so no etcd, control-plane or other node of the hop was touched: %v", ErrBackupFailed, ref, err)
		}
		res.Backups = append(res.Backups, Backup{
			Hop: ht.Label, StartedAt: start, FinishedAt: r.Now().UTC(),
			Location: snap.Path, TakenBy: BackupByUpgate, SizeBytes: snap.Size,
			Endpoint: snap.Endpoint, EtcdVersion: snap.EtcdVersion, Revision: snap.Revision, SHA256: snap.SHA256,
		})
		r.printf("[%s] etcd snapshot %s: %d bytes, etcd %s at revision %d, from %s (upgate never deletes it)\n",
			StageEtcdBackup, snap.Path, snap.Size, snap.EtcdVersion, snap.Revision, snap.Endpoint)
		ctx = context.WithValue(ctx, snapshotKey{}, snap.Path)
	}
	r.printf("[%s] backing up etcd through the driver\n", StageEtcdBackup)
	start := r.Now().UTC()
	if err := r.callDriver(ctx, StageEtcdBackup, r.Driver.EtcdBackup); err != nil {
		if serr := r.stopped(ctx); serr != nil {
			return fmt.Errorf("%w: %s: before the etcd backup finished, no node of the hop was touched", serr, ref)
		}
		return fmt.Errorf("%w: %s: the driver's etcd backup failed, so no etcd, control-plane or other node of the hop was touched: %v", ErrBackupFailed, ref, err)
	}
	r.recordBackup(res, ht, start, len(res.Backups) > before)
	if len(res.Backups) == before {
		r.printf("[%s] NO etcd backup was taken in %s: %s\n", StageEtcdBackup, ref, res.BackupNote)
	}
	return nil
}

// recordBackup notes the etcd backup the driver just took for the hop;
// snapshot says upgate took its own just before.
func (r *Runner) recordBackup(res *Result, ht Target, start time.Time, snapshot bool) {
	b := Backup{Hop: ht.Label, StartedAt: start, FinishedAt: r.Now().UTC(), TakenBy: BackupByDriver}
	br, ok := r.Driver.(BackupReporter)
	if !ok {
		b.Note = "the driver does not say where it keeps its backups"
		res.Backups = append(res.Backups, b)
		return
	}
	loc, taken := br.LastBackup()
	if !taken {
		if !snapshot {
			res.BackupNote = "no etcd backup was taken: upgate takes its own snapshot only with --etcd-endpoints, and the driver took none (the kwok driver's simulated nodes hold no etcd data)"
		}
		return
	}
	if b.Location = loc; loc == "" {
		b.Note = "the driver did not say where it keeps the backup (a command driver says so with a line " + BackupLocationPrefix + "PATH on its stdout)"
	}
	res.Backups = append(res.Backups, b)
}
