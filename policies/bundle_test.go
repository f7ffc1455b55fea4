package policies

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/internal/bundletest"
)

// A bundle OPA's own code built and signed is verified, loaded as
// --policy-dir's modules are, and changes the digest; every bundle upgate
// must not run is refused as an invalid policy (exit 2), saying why.
func TestPolicyBundle(t *testing.T) {
	priv, pub := bundletest.RSAKey(t)
	_, otherPub := bundletest.RSAKey(t)
	policy := map[string]string{"/fleet.rego": bundletest.Policy("fleet.rule", "fleet policy")}
	rs256 := bundle.NewSigningConfig(priv, "RS256", "")
	key := &BundleKey{Key: pub}
	tests := []struct {
		name    string
		spec    bundletest.Spec
		key     *BundleKey
		wantErr string // empty: accepted
	}{
		{"signed, verified", bundletest.Spec{Modules: policy, Sign: rs256}, key, ""},
		{"unsigned, no key", bundletest.Spec{Modules: policy}, nil, ""},
		// The signature's key ID is not looked at, as by opa build.
		{"signed with a key id and scope", bundletest.Spec{Modules: policy, KeyID: "fleet",
			Sign: bundle.NewSigningConfig(priv, "RS256", writeFile(t, "claims.json", `{"scope": "prod"}`))},
			&BundleKey{Key: pub, Scope: "prod"}, ""},
		{"HS256", bundletest.Spec{Modules: policy, Sign: bundle.NewSigningConfig("s3cret", "HS256", "")},
			&BundleKey{Key: "s3cret", Alg: "HS256"}, ""},
		{"tests are verified, not loaded", bundletest.Spec{Sign: rs256, Modules: map[string]string{
			"/fleet.rego": policy["/fleet.rego"], "/fleet_test.rego": "package upgate.fleet\n\ntest_x if input.nope\n"}}, key, ""},

		{"a module changed after signing", bundletest.Spec{Modules: policy, Sign: rs256, AfterSigning: func(b *bundle.Bundle) {
			b.Modules[0].Raw = bytes.Replace(b.Modules[0].Raw, []byte("warn"), []byte("info"), 1)
		}}, key, "signature not verified: fleet.rego: digest mismatch"},
		{"a module added after signing", bundletest.Spec{Modules: policy, Sign: rs256, AfterSigning: func(b *bundle.Bundle) {
			b.Modules = append(b.Modules, bundle.ModuleFile{URL: "/more.rego", Path: "/more.rego", Raw: []byte("package upgate.more\n")})
		}}, key, "signature not verified: file more.rego not included in bundle signature"},
		{"another key", bundletest.Spec{Modules: policy, Sign: rs256}, &BundleKey{Key: otherPub}, "signature not verified: failed to verify JWT signature"},
		{"another scope", bundletest.Spec{Modules: policy, Sign: rs256}, &BundleKey{Key: pub, Scope: "prod"}, "signature not verified: scope mismatch"},
		{"another algorithm", bundletest.Spec{Modules: policy, Sign: rs256}, &BundleKey{Key: pub, Alg: "ES256"}, "signature not verified: "},
		{"unsigned with a key", bundletest.Spec{Modules: policy}, key, "the bundle is not signed"},
		{"signed without a key", bundletest.Spec{Modules: policy, Sign: rs256}, nil, "the bundle is signed but no --policy-bundle-key"},
		{"no roots", bundletest.Spec{Modules: policy, NoRoots: true}, nil, "the manifest declares no roots"},
		{"a root outside upgate", bundletest.Spec{Modules: map[string]string{"/t.rego": "package team.x\n"}, Roots: []string{"team"}}, nil, `manifest root "team" is not under upgate/`},
		{"a package outside upgate.", bundletest.Spec{Modules: map[string]string{"/t.rego": "package upgate\n\nx := 1\n"}}, nil, "package upgate is not under upgate."},
		{"data", bundletest.Spec{Modules: policy, Data: map[string]any{"upgate": map[string]any{"fleet": map[string]any{"frozen": []any{"worker-1"}}}}}, nil, "holds data documents (upgate)"},
		{"no policy", bundletest.Spec{Modules: map[string]string{"/fleet_test.rego": "package upgate.fleet\n"}}, nil, "holds no policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tarball := bundletest.Build(t, tc.spec)
			e, err := loadBundle(tarball, tc.key)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				res := evaluate(t, e, readTestdata(t, "clean-cluster"), "v1.35.2", "v1.36.0")
				if !slices.ContainsFunc(res.Findings, func(f finding.Finding) bool { return f.Check == "fleet.rule" }) {
					t.Errorf("the bundle's policy reported nothing: %v", res.Checks)
				}
				if e.Digest() == testEngine(t).Digest() {
					t.Error("the digest does not change with the bundle")
				}
				return
			}
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrInvalidPolicy saying %q", err, tc.wantErr)
			}
			t.Log(err)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line: %q", err)
			}
		})
	}
}

// loadBundle reads the tarball as a bundle file and compiles the engine.
func loadBundle(tarball []byte, key *BundleKey) (*Engine, error) {
	b, err := ParseBundle("bundle.tar.gz", bytes.NewReader(tarball), key)
	if err != nil {
		return nil, err
	}
	return New(context.Background(), Options{Bundle: b})
}

// The same bundle gives the same digest, read from a file, from a
// stream or from another place: the digest is of its policies.
func TestPolicyBundleDigestIsItsPolicies(t *testing.T) {
	mk := func(msg string) []byte {
		return bundletest.Build(t, bundletest.Spec{Modules: map[string]string{"/fleet.rego": bundletest.Policy("fleet.rule", msg)}})
	}
	digest := func(source string, tarball []byte) string {
		t.Helper()
		var b *Bundle
		var err error
		if source == "" {
			p := filepath.Join(t.TempDir(), "bundle.tar.gz")
			if err := os.WriteFile(p, tarball, 0o600); err != nil {
				t.Fatal(err)
			}
			b, err = ReadBundle(p, nil)
		} else {
			b, err = ParseBundle(source, bytes.NewReader(tarball), nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(context.Background(), Options{Bundle: b})
		if err != nil {
			t.Fatal(err)
		}
		return e.Digest()
	}
	v1 := digest("", mk("v1"))
	if got := digest("https://bundles.example/upgate", mk("v1")); got != v1 {
		t.Errorf("same bundle, other source: digest %s, want %s", got, v1)
	}
	if got := digest("", mk("v2")); got == v1 {
		t.Error("another policy, same digest")
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
