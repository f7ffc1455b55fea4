package executor

import (
	"bytes"
	"strings"
	"sync"
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
