//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// etcdAccess is how the cluster's kube-apiserver reaches etcd: its
// --etcd-servers and, when etcd speaks TLS, --etcd-cafile, --etcd-certfile
// and --etcd-keyfile. upgate is given the same.
type etcdAccess struct {
	servers, ca, cert, key string
}

// apiserverEtcd reads the local cluster's kube-apiserver flags from
// /proc/PID/cmdline, its pid from kwokctl's pid file.
func apiserverEtcd(t *testing.T) etcdAccess {
	t.Helper()
	cache := os.Getenv("UPGATE_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "upgate")
	}
	pidFile := filepath.Join(cache, "kwok", "clusters", os.Getenv("UPGATE_CLUSTER"), "pids", "kube-apiserver.pid")
	pid, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the cluster's kube-apiserver pid: %v", err)
	}
	proc := filepath.Join("/proc", strings.TrimSpace(string(pid)))
	raw, err := os.ReadFile(filepath.Join(proc, "cmdline"))
	if err != nil {
		t.Fatalf("kube-apiserver's flags: %v", err)
	}
	cwd, _ := os.Readlink(filepath.Join(proc, "cwd"))
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	flag := func(name string) string {
		for i, a := range args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				return v
			}
			if a == "--"+name && i+1 < len(args) {
				return args[i+1]
			}
		}
		return ""
	}
	file := func(name string) string {
		p := flag(name)
		if p != "" && !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		return p
	}
	e := etcdAccess{servers: flag("etcd-servers"), ca: file("etcd-cafile"), cert: file("etcd-certfile"), key: file("etcd-keyfile")}
	if e.servers == "" {
		t.Fatalf("kube-apiserver has no --etcd-servers: %q", args)
	}
	t.Logf("kube-apiserver reaches etcd at %s (CA %q, cert %q, key %q)", e.servers, e.ca, e.cert, e.key)
	return e
}

func (e etcdAccess) flags(servers string) []string {
	out := []string{"--etcd-endpoints", servers}
	for flag, v := range map[string]string{"--etcd-cacert": e.ca, "--etcd-cert": e.cert, "--etcd-key": e.key} {
		if v != "" {
			out = append(out, flag, v)
		}
	}
	return out
}

type backupRecord struct {
	Verdict, Reason string
	EtcdBackups     []struct {
		Hop, Location, TakenBy, Endpoint, EtcdVersion string
		SizeBytes, Revision                           int64
		SHA256                                        string
		FinishedAt                                    time.Time
	}
	EtcdBackupNote string
	Nodes          []struct {
		Name, Stage, Outcome string
		Steps                []struct {
			Name  string
			Start time.Time
		}
	}
}

func readBackupRecord(t *testing.T, path string) backupRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec backupRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return rec
}

// TestRunEtcdBackup: upgate run takes a real snapshot of the local
// cluster's etcd, reached as its kube-apiserver reaches it, before any
// control-plane node, and lists its path and size in the run record; an
// etcd it cannot reach stops the run before any control-plane node is
// touched; a dry run takes none.
func TestRunEtcdBackup(t *testing.T) {
	cfg := runConfig(t)
	t.Cleanup(func() { restoreCluster(t) })
	etcd := apiserverEtcd(t)
	// The hazards would close the gate before the etcd-backup stage.
	kubectl(t, "", "delete", "namespace", "hazards", "--wait=true")
	setKubelet(t, "worker-3", seededKubelet)

	dir := t.TempDir()
	backups := filepath.Join(dir, "etcd-backups")

	t.Run("a dry run takes no snapshot", func(t *testing.T) {
		code, out, _ := runUpgate(t, cfg, append([]string{"--dry-run", "--etcd-backup-dir", backups}, etcd.flags(etcd.servers)...)...)
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		if !strings.Contains(out, "would take an etcd snapshot") || !strings.Contains(out, "answers: etcd 3.6.") {
			t.Errorf("the dry run does not say what it would take and that etcd answers")
		}
		if _, err := os.Stat(backups); !os.IsNotExist(err) {
			t.Errorf("a dry run made %s: %v", backups, err)
		}
	})

	t.Run("an unreachable etcd touches no control-plane node", func(t *testing.T) {
		record := filepath.Join(dir, "refused.json")
		// Nothing listens on port 1; the scheme is the real etcd's, so
		// that its certificates still go with it.
		nowhere := "http://127.0.0.1:1"
		if strings.HasPrefix(etcd.servers, "https://") {
			nowhere = "https://127.0.0.1:1"
		}
		code, out, stderr := runUpgate(t, cfg, append([]string{"--output", record, "--etcd-backup-dir", backups}, etcd.flags(nowhere)...)...)
		if code != 3 {
			t.Errorf("exit %d, want 3", code)
		}
		if !strings.Contains(stderr, "etcd backup failed") || !strings.Contains(stderr, "127.0.0.1:1") {
			t.Errorf("stderr does not say the etcd backup failed at its endpoint: %s", stderr)
		}
		for _, name := range cpNodes {
			n := getNode(t, name)
			if p, ok := n.Annotations["upgate.dev/phase"]; ok {
				t.Errorf("control-plane node %s has upgate.dev/phase=%q though the backup failed", name, p)
			}
			if n.Spec.Unschedulable {
				t.Errorf("control-plane node %s cordoned though the backup failed", name)
			}
		}
		for _, name := range workerNodes {
			if p, ok := getNode(t, name).Annotations["upgate.dev/phase"]; ok {
				t.Errorf("worker %s has upgate.dev/phase=%q though the backup failed", name, p)
			}
		}
		if strings.Contains(out, "kwok driver") {
			t.Errorf("the driver was called after the snapshot failed")
		}
		rec := readBackupRecord(t, record)
		if rec.Verdict != "failed" || !strings.Contains(rec.Reason, "etcd backup failed") || len(rec.EtcdBackups) != 0 {
			t.Errorf("record: verdict %q reason %q backups %+v", rec.Verdict, rec.Reason, rec.EtcdBackups)
		}
		if entries, _ := os.ReadDir(backups); len(entries) != 0 {
			t.Errorf("the failed snapshot left %d file(s) in %s", len(entries), backups)
		}
	})

	t.Run("a dated snapshot in the run record", func(t *testing.T) {
		record := filepath.Join(dir, "run.json")
		code, out, _ := runUpgate(t, cfg, append([]string{"--output", record, "--etcd-backup-dir", backups}, etcd.flags(etcd.servers)...)...)
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		rec := readBackupRecord(t, record)
		if rec.Verdict != "done" {
			t.Errorf("verdict %q: %s", rec.Verdict, rec.Reason)
		}
		var snaps []string
		for _, b := range rec.EtcdBackups {
			if b.TakenBy != "upgate" {
				continue
			}
			snaps = append(snaps, b.Location)
			if !regexp.MustCompile(`^etcd-snapshot-\d{8}T\d{6}Z(-\d+)?\.db$`).MatchString(filepath.Base(b.Location)) || filepath.Dir(b.Location) != backups {
				t.Errorf("snapshot %s is not a dated file in %s", b.Location, backups)
			}
			fi, err := os.Stat(b.Location)
			if err != nil {
				t.Fatalf("the recorded snapshot: %v", err)
			}
			if fi.Size() == 0 || fi.Size() != b.SizeBytes {
				t.Errorf("snapshot %s: %d bytes on disk, %d in the record", b.Location, fi.Size(), b.SizeBytes)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("snapshot %s mode %v, want 0600", b.Location, fi.Mode().Perm())
			}
			if !strings.HasPrefix(b.EtcdVersion, "3.6.") || b.Revision <= 0 || !strings.Contains(etcd.servers, strings.TrimPrefix(strings.TrimPrefix(b.Endpoint, "https://"), "http://")) {
				t.Errorf("snapshot %s: etcd %q, revision %d, endpoint %q", b.Location, b.EtcdVersion, b.Revision, b.Endpoint)
			}
			t.Logf("snapshot %s: %d bytes, etcd %s, revision %d", b.Location, b.SizeBytes, b.EtcdVersion, b.Revision)
		}
		if len(snaps) != 1 {
			t.Fatalf("record lists %d snapshots taken by upgate, want 1 (one hop): %+v", len(snaps), rec.EtcdBackups)
		}
		// The snapshot came before the first etcd or control-plane node
		// (the local cluster's control-plane nodes host etcd: stage etcd).
		i, j := strings.Index(out, snaps[0]), strings.Index(out, "[etcd cp-")
		if i < 0 || j < 0 || i > j {
			t.Errorf("the snapshot line (%d) does not come before the first etcd-stage node line (%d)", i, j)
		}
		done := rec.EtcdBackups[0].FinishedAt
		for _, n := range rec.Nodes {
			if len(n.Steps) == 0 {
				t.Errorf("node %s (%s) has no steps", n.Name, n.Stage)
				continue
			}
			if n.Steps[0].Start.Before(done) {
				t.Errorf("node %s (%s) started %s, before the etcd snapshot finished at %s", n.Name, n.Stage, n.Steps[0].Start, done)
			}
		}
		if rec.EtcdBackupNote != "" {
			t.Errorf("a run that took a snapshot notes %q", rec.EtcdBackupNote)
		}
	})
}
