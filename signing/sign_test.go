package signing

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/upgate-dev/upgate/atomicfile"
	"github.com/upgate-dev/upgate/finding/findingtest"
	"github.com/upgate-dev/upgate/internal/tooltest"
	"github.com/upgate-dev/upgate/reports"
)

const testPassword = "correct horse battery staple"

// keyPairs caches generated key pairs: encrypting a cosign key runs scrypt,
// which is slow by design, and every test needs keys.
var keyPairs = struct {
	sync.Mutex
	dir   string
	paths map[string][2]string
}{paths: map[string][2]string{}}

// TestMain removes the cached keys.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if keyPairs.dir != "" {
		_ = os.RemoveAll(keyPairs.dir)
	}
	os.Exit(code)
}

// keyPair returns the paths of a cosign key pair made by the cosign library
// exactly as `cosign generate-key-pair` makes it; the same name gives the
// same pair, another name another pair.
func keyPair(t *testing.T, name string, algo protocommon.PublicKeyDetails) (priv, pub string) {
	t.Helper()
	keyPairs.Lock()
	defer keyPairs.Unlock()
	id := fmt.Sprintf("%s-%d", name, algo)
	if p, ok := keyPairs.paths[id]; ok {
		return p[0], p[1]
	}
	if keyPairs.dir == "" {
		dir, err := os.MkdirTemp("", "upgate-reports-keys-")
		if err != nil {
			t.Fatal(err)
		}
		keyPairs.dir = dir
	}
	details, err := signature.GetAlgorithmDetails(algo)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := cosign.GenerateKeyPairWithAlgorithm(&details, func(bool) ([]byte, error) { return []byte(testPassword), nil })
	if err != nil {
		t.Fatalf("generating key pair: %v", err)
	}
	dir := filepath.Join(keyPairs.dir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	priv, pub = filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(priv, kb.PrivateBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, kb.PublicBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	keyPairs.paths[id] = [2]string{priv, pub}
	return priv, pub
}

// writeReport renders the blocked fixture as JSON into dir, as the CLI
// does with --output.
func writeReport(t *testing.T, dir string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := reports.Render(&buf, findingtest.Blocked(), reports.FormatJSON, reports.RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "report.json")
	if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	return path
}

// cosignCLI finds the independent cosign binary hack/tools.sh installs.
// The point is agreement with stock cosign, so only a run that allows
// skips (tooltest) may do without it: then it returns "", the skip is
// recorded, and callers check only our own verifier.
func cosignCLI(t *testing.T) string {
	t.Helper()
	return tooltest.Optional(t, "cosign", "agreement with stock cosign verify-blob")
}

// runCosign runs the CLI offline with a throwaway home, so it neither reads
// nor writes the user's ~/.sigstore.
func runCosign(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func cosignVerify(t *testing.T, bin, file, sig, pub string) (string, error) {
	return runCosign(t, bin, nil, "verify-blob", "--key", pub, "--signature", sig, "--insecure-ignore-tlog=true", file)
}

var keyAlgorithms = []struct {
	name string
	algo protocommon.PublicKeyDetails
}{
	// ECDSA P-256 is what `cosign generate-key-pair` makes by default.
	{"ecdsa-p256", protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256},
	{"ed25519", protocommon.PublicKeyDetails_PKIX_ED25519},
	{"rsa-2048", protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256},
}

// A report we sign is accepted by VerifyFile and by cosign verify-blob, and
// any change to report, signature or key is rejected by both.
func TestSignFileAgreesWithCosign(t *testing.T) {
	bin := cosignCLI(t)
	for _, ka := range keyAlgorithms {
		t.Run(ka.name, func(t *testing.T) {
			priv, pub := keyPair(t, "signer", ka.algo)
			_, otherPub := keyPair(t, "other", ka.algo)
			report := writeReport(t, t.TempDir())
			if err := SignFile(report, priv, []byte(testPassword)); err != nil {
				t.Fatalf("SignFile: %v", err)
			}
			sig, err := os.ReadFile(report + SigSuffix)
			if err != nil {
				t.Fatal(err)
			}
			// What cosign sign-blob writes: plain base64, no newline.
			if _, err := base64.StdEncoding.Strict().DecodeString(string(sig)); err != nil || bytes.ContainsAny(sig, "\r\n") {
				t.Fatalf(".sig is not bare base64 (%v): %q", err, sig)
			}
			if err := VerifyFile(report, "", pub); err != nil {
				t.Fatalf("VerifyFile of a freshly signed report: %v", err)
			}
			if bin != "" {
				if out, err := cosignVerify(t, bin, report, report+SigSuffix, pub); err != nil {
					t.Fatalf("cosign verify-blob rejects our signature: %v\n%s", err, out)
				}
			}

			tampers := []struct {
				name string
				// tamper changes the copies in dir and returns the public
				// key to verify with.
				tamper func(t *testing.T, report, sig string) (pubKey string)
			}{
				{"one byte of the report flipped", func(t *testing.T, report, _ string) string {
					flipByte(t, report, 42)
					return pub
				}},
				{"newline appended to the report", func(t *testing.T, report, _ string) string {
					appendFile(t, report, "\n")
					return pub
				}},
				{"signature flipped", func(t *testing.T, _, sig string) string {
					raw, _ := base64.StdEncoding.DecodeString(string(readFile(t, sig)))
					raw[len(raw)/2] ^= 0x01
					writeFile(t, sig, base64.StdEncoding.EncodeToString(raw))
					return pub
				}},
				{"signature empty", func(t *testing.T, _, sig string) string {
					writeFile(t, sig, "")
					return pub
				}},
				{"another key", func(t *testing.T, _, _ string) string { return otherPub }},
			}
			for _, tc := range tampers {
				t.Run(tc.name, func(t *testing.T) {
					dir := t.TempDir()
					r, s := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.json.sig")
					writeFile(t, r, string(readFile(t, report)))
					writeFile(t, s, string(sig))
					key := tc.tamper(t, r, s)

					if err := VerifyFile(r, s, key); !errors.Is(err, ErrBadSignature) {
						t.Errorf("VerifyFile = %v, want ErrBadSignature", err)
					}
					if bin == "" {
						return
					}
					if out, err := cosignVerify(t, bin, r, s, key); err == nil {
						t.Errorf("cosign verify-blob accepted it:\n%s", out)
					}
				})
			}
		})
	}
}

// The other direction: what stock cosign signs, VerifyFile accepts.
func TestVerifyFileAcceptsCosignSignature(t *testing.T) {
	bin := cosignCLI(t)
	if bin == "" {
		t.Skip("needs the cosign CLI (skipped under -short; run hack/tools.sh)")
	}
	priv, pub := keyPair(t, "signer", protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256)
	report := writeReport(t, t.TempDir())
	sig := report + SigSuffix
	out, err := runCosign(t, bin, []string{"COSIGN_PASSWORD=" + testPassword},
		"sign-blob", "--yes", "--key", priv, "--tlog-upload=false", "--output-signature", sig, report)
	if err != nil {
		t.Fatalf("cosign sign-blob: %v\n%s", err, out)
	}
	if err := VerifyFile(report, sig, pub); err != nil {
		t.Errorf("VerifyFile rejects cosign's signature: %v", err)
	}
	flipByte(t, report, 7)
	if err := VerifyFile(report, sig, pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyFile of a changed report = %v, want ErrBadSignature", err)
	}
}

func TestVerifyFileMissingSignature(t *testing.T) {
	_, pub := keyPair(t, "signer", protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256)
	report := writeReport(t, t.TempDir())
	if err := VerifyFile(report, "", pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyFile without a .sig = %v, want ErrBadSignature", err)
	}
}

// Every way a private key can be unusable is ErrBadKey (exit 2), and no
// signature file appears.
func TestSignFileBadKey(t *testing.T) {
	priv, pub := keyPair(t, "signer", protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.key")
	writeFile(t, garbage, "not a key\n")
	wrongType := filepath.Join(dir, "wrongtype.key")
	writeFile(t, wrongType, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	truncated := filepath.Join(dir, "truncated.key")
	k := readFile(t, priv)
	writeFile(t, truncated, string(k[:len(k)/2]))

	tests := []struct {
		name, key, password string
		wantInMsg           string
	}{
		{"wrong password", priv, "wrong", "wrong password"},
		{"empty password", priv, "", "wrong password"},
		{"missing key", filepath.Join(dir, "nope.key"), testPassword, "no such file"},
		{"not PEM", garbage, testPassword, "invalid pem"},
		{"unsupported PEM type", wrongType, testPassword, "unsupported pem type"},
		{"truncated key", truncated, testPassword, "bad key"},
		{"public key given", pub, testPassword, "unsupported pem type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			report := writeReport(t, t.TempDir())
			err := SignFile(report, tc.key, []byte(tc.password))
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("SignFile = %v, want ErrBadKey", err)
			}
			if !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantInMsg)
			}
			if _, err := os.Stat(report + SigSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a .sig was written despite the bad key (stat: %v)", err)
			}
		})
	}
}

func TestSignFileMissingReportIsNotABadKey(t *testing.T) {
	priv, _ := keyPair(t, "signer", protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256)
	err := SignFile(filepath.Join(t.TempDir(), "absent.json"), priv, []byte(testPassword))
	if err == nil || errors.Is(err, ErrBadKey) || errors.Is(err, ErrBadSignature) {
		t.Errorf("SignFile(missing report) = %v, want a plain error", err)
	}
}

func TestVerifyFileBadPublicKey(t *testing.T) {
	priv, _ := keyPair(t, "signer", protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256)
	dir := t.TempDir()
	report := writeReport(t, dir)
	if err := SignFile(report, priv, []byte(testPassword)); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pub")
	writeFile(t, garbage, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	for name, key := range map[string]string{
		"missing":         filepath.Join(dir, "nope.pub"),
		"garbage":         garbage,
		"private key PEM": priv,
	} {
		if err := VerifyFile(report, "", key); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s public key: VerifyFile = %v, want ErrBadKey", name, err)
		}
	}
}

func flipByte(t *testing.T, path string, i int) {
	t.Helper()
	b := readFile(t, path)
	b[i%len(b)] ^= 0x20
	writeFile(t, path, string(b))
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	writeFile(t, path, string(readFile(t, path))+s)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
