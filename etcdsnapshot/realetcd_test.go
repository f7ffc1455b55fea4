package etcdsnapshot

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdBinary is an etcd to test against: $UPGATE_ETCD_BIN, else the one
// hack/build-cluster-bins.sh cached for the local cluster.
func etcdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an etcd")
	}
	if b := os.Getenv("UPGATE_ETCD_BIN"); b != "" {
		return b
	}
	cache := os.Getenv("UPGATE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "upgate")
	}
	found, _ := filepath.Glob(filepath.Join(cache, "bin", "*", "etcd"))
	if len(found) == 0 {
		t.Skip("no etcd binary: set UPGATE_ETCD_BIN, or run make cluster-bins")
	}
	return found[len(found)-1]
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSaveFromARealEtcd starts a one-member etcd, writes a key, and takes
// two snapshots in the same second: two whole files, dated, 0600, none
// overwritten, with the member's version and revision.
func TestSaveFromARealEtcd(t *testing.T) {
	bin := etcdBinary(t)
	dir := t.TempDir()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--name", "e", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "e="+peer,
		"--log-level", "error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Put(ctx, "/registry/upgate/test", "before the upgrade")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not start: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	backups := filepath.Join(dir, "backups")
	at := time.Date(2026, 12, 2, 10, 15, 0, 0, time.UTC)
	s, err := New(Config{Endpoints: []string{"http://127.0.0.1:1", client}, Dir: backups, DialTimeout: time.Second, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(first.Path) != "etcd-snapshot-20261202T101500Z.db" || filepath.Base(second.Path) != "etcd-snapshot-20261202T101500Z-2.db" {
		t.Errorf("paths %s, %s", first.Path, second.Path)
	}
	for _, snap := range []*Snapshot{first, second} {
		fi, err := os.Stat(snap.Path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != snap.Size || snap.Size < 512 || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: size %d (said %d), mode %v", snap.Path, fi.Size(), snap.Size, fi.Mode().Perm())
		}
		if snap.Endpoint != client || snap.Revision < 2 || !regexp.MustCompile(`^3\.6\.`).MatchString(snap.EtcdVersion) || len(snap.SHA256) != 64 {
			t.Errorf("%s: %+v", snap.Path, snap)
		}
	}
	entries, _ := os.ReadDir(backups)
	if len(entries) != 2 {
		t.Errorf("%d files in the backup directory, want the two snapshots and nothing else", len(entries))
	}
	endpoint, version, rev, size, err := s.Probe(context.Background())
	if err != nil || endpoint != client || version == "" || rev < 2 || size <= 0 {
		t.Errorf("Probe = %s %s %d %d %v", endpoint, version, rev, size, err)
	}
}
