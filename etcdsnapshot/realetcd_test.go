package etcdsnapshot

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/upgate-dev/upgate/internal/tooltest"
)

// etcdBinary is an etcd to test against: $UPGATE_ETCD_BIN, else the one
// hack/build-cluster-bins.sh cached for the local cluster.
func etcdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		tooltest.Unavailable(t, "starts an etcd, which -short leaves out")
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
		tooltest.Unavailable(t, "no etcd binary in "+filepath.Join(cache, "bin")+": set UPGATE_ETCD_BIN, or run make cluster-bins")
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

// startEtcd starts a one-member etcd in dir, its client URL https with
// client-certificate auth when tlsFlags (its --cert-file ... flags) are
// given, writes a key through it, and returns the client URL.
func startEtcd(t *testing.T, dir string, tlsFlags []string, clientTLS ...*tls.Config) string {
	t.Helper()
	bin := etcdBinary(t)
	scheme := "http"
	if len(tlsFlags) > 0 {
		scheme = "https"
	}
	client := fmt.Sprintf("%s://127.0.0.1:%d", scheme, freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	args := append([]string{"--name", "e", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "e=" + peer,
		"--log-level", "error"}, tlsFlags...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	cfg := clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if len(clientTLS) > 0 {
		cfg.TLS = clientTLS[0]
	}
	cli, err := clientv3.New(cfg)
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
			return client
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not start: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSaveFromARealEtcd starts a one-member etcd, writes a key, and takes
// two snapshots in the same second: two whole files, dated, 0600, none
// overwritten, with the member's version and revision.
func TestSaveFromARealEtcd(t *testing.T) {
	dir := t.TempDir()
	client := startEtcd(t, dir, nil)

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

// TestSaveOverTLS: etcd with client-certificate auth, as kubeadm runs it:
// the snapshot goes through with --etcd-cacert, --etcd-cert and --etcd-key,
// and is refused without the client certificate.
func TestSaveOverTLS(t *testing.T) {
	dir := t.TempDir()
	pki := writePKI(t, dir)
	clientTLS, err := (&transport.TLSInfo{CertFile: pki.clientCert, KeyFile: pki.clientKey, TrustedCAFile: pki.ca}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	client := startEtcd(t, dir, []string{"--cert-file", pki.serverCert, "--key-file", pki.serverKey,
		"--trusted-ca-file", pki.ca, "--client-cert-auth"}, clientTLS)
	s, err := New(Config{Endpoints: []string{client}, CACert: pki.ca, Cert: pki.clientCert, Key: pki.clientKey, Dir: filepath.Join(dir, "backups"), DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Size < 512 || snap.Revision < 2 {
		t.Errorf("snapshot %+v", snap)
	}
	s, err = New(Config{Endpoints: []string{client}, CACert: pki.ca, Dir: filepath.Join(dir, "refused"), DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Save(context.Background())
	t.Logf("refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a snapshot without the client certificate: %v, want an error about the certificate", err)
	}
	s, err = New(Config{Endpoints: []string{client}, Dir: filepath.Join(dir, "refused"), DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Save(context.Background())
	t.Logf("refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a snapshot without etcd's CA: %v, want an error about the certificate", err)
	}
	s, err = New(Config{Endpoints: []string{strings.Replace(client, "https", "http", 1)}, Dir: filepath.Join(dir, "refused"), DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Save(context.Background())
	t.Logf("refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Errorf("plain http to a TLS etcd: %v, want a hint to write https://", err)
	}
}

type pkiFiles struct{ ca, serverCert, serverKey, clientCert, clientKey string }

// writePKI writes a CA, a serving certificate for 127.0.0.1 and a client
// certificate, PEM, into dir.
func writePKI(t *testing.T, dir string) pkiFiles {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "EC PRIVATE KEY", der)
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcd-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	serverDER, serverKey := leaf(2, "etcd", x509.ExtKeyUsageServerAuth)
	clientDER, clientKey := leaf(3, "upgate", x509.ExtKeyUsageClientAuth)
	return pkiFiles{
		ca:         write("ca.crt", "CERTIFICATE", caDER),
		serverCert: write("server.crt", "CERTIFICATE", serverDER),
		serverKey:  writeKey("server.key", serverKey),
		clientCert: write("client.crt", "CERTIFICATE", clientDER),
		clientKey:  writeKey("client.key", clientKey),
	}
}
