// Package bundletest builds OPA bundles for tests with OPA's own bundle
// code (github.com/open-policy-agent/opa/v1/bundle), as `opa build
// --bundle` does: upgate's tests of --policy-bundle never write a tarball
// or a signature themselves.
package bundletest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"sort"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// Spec is a bundle to build.
type Spec struct {
	// Modules are Rego modules by their path in the bundle ("/house.rego").
	Modules map[string]string
	// Roots are the manifest's roots; nil means ["upgate"].
	Roots []string
	// NoRoots leaves the manifest without roots (OPA then reads the
	// bundle as claiming every path).
	NoRoots bool
	// Data is the bundle's data.json.
	Data map[string]any
	// Revision is the manifest's revision.
	Revision string
	// Sign, when set, signs the bundle with KeyID (empty: "default").
	Sign  *bundle.SigningConfig
	KeyID string
	// AfterSigning changes the bundle after it was signed (a tampered
	// bundle).
	AfterSigning func(*bundle.Bundle)
}

// Build returns the bundle tarball, as `opa build --bundle` writes it.
func Build(t testing.TB, s Spec) []byte {
	t.Helper()
	b := bundle.Bundle{Data: s.Data}
	if b.Data == nil {
		b.Data = map[string]any{}
	}
	if !s.NoRoots {
		roots := s.Roots
		if roots == nil {
			roots = []string{"upgate"}
		}
		b.Manifest.Roots = &roots
	}
	b.Manifest.Revision = s.Revision
	paths := make([]string, 0, len(s.Modules))
	for p := range s.Modules {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		m, err := ast.ParseModuleWithOpts(p, s.Modules[p], ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("bundletest: %s: %v", p, err)
		}
		b.Modules = append(b.Modules, bundle.ModuleFile{URL: p, Path: p, Raw: []byte(s.Modules[p]), Parsed: m})
	}
	if s.Sign != nil {
		id := s.KeyID
		if id == "" {
			id = "default"
		}
		if err := b.GenerateSignature(s.Sign, id, false); err != nil {
			t.Fatalf("bundletest: sign: %v", err)
		}
	}
	if s.AfterSigning != nil {
		s.AfterSigning(&b)
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).UseModulePath(true).DisableFormat(true).Write(b); err != nil {
		t.Fatalf("bundletest: write: %v", err)
	}
	return buf.Bytes()
}

// RSAKey returns a new RSA key pair, PEM encoded: the private key (PKCS #1)
// for bundle.NewSigningConfig and `opa build --signing-key`, the public
// key (PKIX) for verification.
func RSAKey(t testing.TB) (private, public string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

// Policy is a module of package upgate.fleet whose rule reports a warn
// finding of check on every node, saying message. It builds the finding
// itself, not with upgate's lib.finding, so that `opa build` compiles it
// alone.
func Policy(check, message string) string {
	return `package upgate.fleet

# METADATA
# title: Fleet policy
# custom:
#   check: ` + check + `
#   severity: warn
findings contains f if {
	some n in input.safety.nodes
	f := {
		"check": "` + check + `", "severity": "warn", "node": n.name,
		"subject": {"kind": "Node", "name": n.name}, "message": "` + message + `",
	}
}
`
}
