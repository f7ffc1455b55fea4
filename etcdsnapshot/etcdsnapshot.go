// Package etcdsnapshot takes etcd snapshots through etcd's own client
// library (go.etcd.io/etcd/client/v3, the Maintenance API etcdctl and
// etcdutl's `snapshot save` use), into a directory of dated files that it
// never overwrites and never deletes.
//
// A snapshot is streamed into a hidden temporary file in the target
// directory, checked against the SHA-256 etcd appends to the stream,
// fsynced, then given its dated name (etcd-snapshot-20261202T101500Z.db)
// with link(2), which fails rather than replace a file already there, and
// the directory is fsynced. A file with the dated name is therefore always
// a whole, checked snapshot, mode 0600 (it holds every Secret of the
// cluster).
package etcdsnapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Defaults of Config's zero values.
const (
	// DefaultDialTimeout bounds connecting to one endpoint and its status
	// call: an etcd member that does not answer in 5s will not serve a
	// snapshot either, and the next endpoint is tried.
	DefaultDialTimeout = 5 * time.Second
	// FilePrefix and FileSuffix frame a snapshot's name around its UTC
	// time (TimeLayout).
	FilePrefix = "etcd-snapshot-"
	FileSuffix = ".db"
	// TimeLayout is the time in a snapshot's name: ISO 8601 basic format,
	// UTC, so that names sort by time.
	TimeLayout = "20060102T150405Z"
)

// Config says where snapshots come from and where they go.
type Config struct {
	// Endpoints are etcd client URLs (https://10.0.0.1:2379) or
	// host:port; the snapshot comes from the first that serves one, in
	// order (a snapshot is one member's database). Required.
	Endpoints []string
	// CACert, Cert and Key are PEM files, as etcdctl's --cacert, --cert
	// and --key: the CA that signed etcd's serving certificate, and a
	// client certificate with its key (both or neither). On a kubeadm
	// control-plane node: /etc/kubernetes/pki/etcd/ca.crt,
	// /etc/kubernetes/pki/apiserver-etcd-client.crt and .key.
	CACert, Cert, Key string
	// Dir is where snapshots are written; created (mode 0700) if missing.
	// Required.
	Dir string
	// DialTimeout bounds connecting to one endpoint. Zero means 5s.
	DialTimeout time.Duration
	// Now names the snapshot. Nil means time.Now.
	Now func() time.Time
}

// Snapshot is a snapshot written to disk.
type Snapshot struct {
	// Path is the snapshot's absolute path.
	Path string
	// Size is its size in bytes, as etcd streamed it (the database and
	// etcd's SHA-256 trailer; etcdutl snapshot restore reads it as is).
	Size int64
	// Endpoint is the member it came from.
	Endpoint string
	// EtcdVersion is that member's etcd server version (its status), and
	// Revision the store's revision just before the snapshot began: the
	// snapshot holds that revision, or a later one.
	EtcdVersion string
	Revision    int64
	// SHA256 is the hex SHA-256 of the file.
	SHA256 string
	// TakenAt is the time in its name.
	TakenAt time.Time
}

// Saver takes snapshots as its Config says. Build it with New.
type Saver struct {
	cfg Config
	tls *tls.Config
}

// ErrConfig: the Config cannot work (no endpoint, a bad URL, a certificate
// file that cannot be read). Nothing was attempted.
var ErrConfig = errors.New("etcd snapshot settings")

// New validates cfg, reads its certificate files and fills in defaults.
func New(cfg Config) (*Saver, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("%w: no etcd endpoint", ErrConfig)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: no directory for the snapshots", ErrConfig)
	}
	if (cfg.Cert == "") != (cfg.Key == "") {
		return nil, fmt.Errorf("%w: a client certificate needs its key: give both or neither", ErrConfig)
	}
	if cfg.DialTimeout < 0 {
		return nil, fmt.Errorf("%w: the dial timeout must not be negative", ErrConfig)
	}
	secure := cfg.CACert != "" || cfg.Cert != ""
	for _, e := range cfg.Endpoints {
		scheme, err := endpointScheme(e)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		if scheme == "https" {
			secure = true
		}
		if scheme == "http" && (cfg.CACert != "" || cfg.Cert != "") {
			return nil, fmt.Errorf("%w: endpoint %s is plain http, but certificates were given: write it https://", ErrConfig, e)
		}
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: directory %s: %v", ErrConfig, cfg.Dir, err)
	}
	cfg.Dir = abs
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Saver{cfg: cfg}
	if secure {
		info := transport.TLSInfo{CertFile: cfg.Cert, KeyFile: cfg.Key, TrustedCAFile: cfg.CACert}
		if s.tls, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf("%w: TLS: %v", ErrConfig, err)
		}
	}
	return s, nil
}

// endpointScheme is http, https, or "" for host:port.
func endpointScheme(e string) (string, error) {
	if !strings.Contains(e, "://") {
		if _, _, ok := strings.Cut(e, ":"); !ok || strings.ContainsAny(e, "/ ") {
			return "", fmt.Errorf("endpoint %q is not a URL (https://HOST:2379) or HOST:PORT", e)
		}
		return "", nil
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("endpoint %q is not an etcd client URL (https://HOST:2379)", e)
	}
	return u.Scheme, nil
}

// Dir is the absolute directory snapshots are written to.
func (s *Saver) Dir() string { return s.cfg.Dir }

// String says where snapshots come from and go, for messages.
func (s *Saver) String() string {
	return fmt.Sprintf("etcd %s into %s", strings.Join(s.cfg.Endpoints, ","), filepath.Join(s.cfg.Dir, FilePrefix+"<UTC time>"+FileSuffix))
}

// FileName is the name of a snapshot taken at t.
func FileName(t time.Time) string {
	return FilePrefix + t.UTC().Format(TimeLayout) + FileSuffix
}

// Save takes a snapshot from the first endpoint that serves one and writes
// it to a new dated file in Dir. It returns an error naming every
// endpoint's failure when none did; no partial file is left behind.
// Existing snapshots are never touched.
func (s *Saver) Save(ctx context.Context) (*Snapshot, error) {
	if err := os.MkdirAll(s.cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create snapshot directory: %w", err)
	}
	var errs []string
	for _, e := range s.cfg.Endpoints {
		snap, err := s.saveFrom(ctx, e)
		if err == nil {
			return snap, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("etcd snapshot from %s stopped: %w", e, context.Cause(ctx))
		}
		errs = append(errs, e+": "+oneLine(err))
	}
	return nil, fmt.Errorf("no etcd snapshot could be taken: %s", strings.Join(errs, "; "))
}

// Probe asks each endpoint for its status, as a dry run's look at what
// Save would meet: the first that answers, with its version and revision.
func (s *Saver) Probe(ctx context.Context) (endpoint, version string, revision, dbSize int64, err error) {
	var errs []string
	for _, e := range s.cfg.Endpoints {
		cli, err := s.client(e)
		if err != nil {
			errs = append(errs, e+": "+oneLine(err))
			continue
		}
		st, err := s.status(ctx, cli, e)
		cli.Close()
		if err == nil {
			return e, st.Version, st.Header.GetRevision(), st.DbSize, nil
		}
		errs = append(errs, e+": "+oneLine(err))
	}
	return "", "", 0, 0, fmt.Errorf("no etcd endpoint answered: %s", strings.Join(errs, "; "))
}

func (s *Saver) client(endpoint string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: s.cfg.DialTimeout,
		TLS:         s.tls,
		Logger:      zap.NewNop(),
	})
}

func (s *Saver) status(ctx context.Context, cli *clientv3.Client, endpoint string) (*clientv3.StatusResponse, error) {
	sctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	st, err := cli.Status(sctx, endpoint)
	if err != nil && ctx.Err() == nil && sctx.Err() != nil {
		// gRPC keeps why it could not connect to itself: look again.
		return nil, fmt.Errorf("no answer to a status request within %s: %s", s.cfg.DialTimeout, s.diagnose(endpoint))
	}
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return st, nil
}

func (s *Saver) saveFrom(ctx context.Context, endpoint string) (snap *Snapshot, err error) {
	cli, err := s.client(endpoint)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	// A quick status first: an unreachable member fails in DialTimeout,
	// not after the snapshot stream's retries.
	st, err := s.status(ctx, cli, endpoint)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(s.cfg.Dir, "."+FilePrefix+"*.part")
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		// The partial file is upgate's own, never a snapshot.
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return nil, err
	}
	taken := s.cfg.Now().UTC().Truncate(time.Second)
	resp, err := cli.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer resp.Snapshot.Close()
	sum := &trailerHash{h: sha256.New()}
	file := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, sum, file), resp.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("snapshot stream after %d bytes: %w", size, err)
	}
	if err := sum.check(); err != nil {
		return nil, fmt.Errorf("snapshot of %d bytes: %w", size, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("fsync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	path, err := linkNew(tmp.Name(), s.cfg.Dir, taken)
	if err != nil {
		return nil, err
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		return nil, fmt.Errorf("snapshot %s written, but fsync of its directory failed: %w", path, err)
	}
	snap = &Snapshot{
		Path: path, Size: size, Endpoint: endpoint, EtcdVersion: st.Version,
		Revision: st.Header.GetRevision(), SHA256: fmt.Sprintf("%x", file.Sum(nil)), TakenAt: taken,
	}
	if r := resp.Header.GetRevision(); r > snap.Revision {
		snap.Revision = r
	}
	return snap, nil
}

// diagnose says why endpoint does not answer, from a connection of its
// own: refused, no TLS where TLS was expected, a certificate etcd or
// upgate refuses.
func (s *Saver) diagnose(endpoint string) string {
	host := endpoint
	if _, rest, ok := strings.Cut(endpoint, "://"); ok {
		host = rest
	}
	host = strings.TrimSuffix(host, "/")
	d := &net.Dialer{Timeout: s.cfg.DialTimeout}
	if s.tls == nil {
		c, err := d.Dial("tcp", host)
		if err != nil {
			return oneLine(err)
		}
		c.Close()
		return "it accepts connections but did not answer as etcd does (is it TLS? then write https://)"
	}
	cfg := s.tls.Clone()
	if h, _, err := net.SplitHostPort(host); err == nil && cfg.ServerName == "" {
		cfg.ServerName = h
	}
	c, err := tls.DialWithDialer(d, "tcp", host, cfg)
	if err != nil {
		return "TLS: " + oneLine(err)
	}
	defer c.Close()
	// With TLS 1.3 a refused client certificate shows on the first read.
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return "TLS: " + oneLine(err)
		}
	}
	return "TLS connects, but etcd did not answer in time"
}

// linkNew gives the temporary file its dated name, never replacing a file:
// a name already taken (two snapshots in one second) gets -2, -3, ...
func linkNew(tmp, dir string, t time.Time) (string, error) {
	base := strings.TrimSuffix(FileName(t), FileSuffix)
	for i := 1; i <= 100; i++ {
		name := base + FileSuffix
		if i > 1 {
			name = fmt.Sprintf("%s-%d%s", base, i, FileSuffix)
		}
		path := filepath.Join(dir, name)
		err := os.Link(tmp, path)
		if err == nil {
			return path, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("name the snapshot %s: %w", path, err)
		}
	}
	return "", fmt.Errorf("name the snapshot: %s through -100 are all taken in %s", base+FileSuffix, dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// trailerHash hashes a stream but its last sha256.Size bytes, which it
// keeps: etcd ends a snapshot with the SHA-256 of the database before it.
type trailerHash struct {
	h    hash.Hash
	tail []byte
	n    int64
}

func (t *trailerHash) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	if len(p) >= sha256.Size {
		t.h.Write(t.tail)
		t.h.Write(p[:len(p)-sha256.Size])
		t.tail = append(t.tail[:0], p[len(p)-sha256.Size:]...)
		return len(p), nil
	}
	t.tail = append(t.tail, p...)
	if extra := len(t.tail) - sha256.Size; extra > 0 {
		t.h.Write(t.tail[:extra])
		t.tail = append(t.tail[:0], t.tail[extra:]...)
	}
	return len(p), nil
}

// check compares the trailer with the hash of what came before it. Like
// etcd's own snapshot save, it first wants the trailer where etcd puts it:
// the database is whole 512-byte sectors.
func (t *trailerHash) check() error {
	if t.n%512 != sha256.Size || len(t.tail) != sha256.Size {
		return errors.New("no SHA-256 trailer: the stream is not a whole etcd snapshot")
	}
	got := t.h.Sum(nil)
	if !bytes.Equal(got, t.tail) {
		return errors.New("SHA-256 mismatch: the snapshot was corrupted on its way")
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
