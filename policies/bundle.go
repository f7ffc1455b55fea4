package policies

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// A policy bundle (--policy-bundle) is users' policies as OPA distributes
// them: a bundle built by `opa build --bundle`, optionally signed with
// `--signing-key`. It is read and its signature verified by OPA's own
// bundle code (github.com/open-policy-agent/opa/v1/bundle), never by
// upgate's: the bundle a fleet's OPA would accept is the one upgate
// accepts. Its modules are then loaded as --policy-dir's are.

// BundleKey verifies a bundle's signature, as `opa run`'s
// --verification-key and its siblings do.
type BundleKey struct {
	// Key is the PEM public key (or certificate) for the RS*, PS* and
	// ES* algorithms, the shared secret for HS*.
	Key string
	// Alg is the signature algorithm; empty means RS256, OPA's default.
	Alg string
	// Scope must equal the signature's scope claim (empty: none).
	Scope string
}

// DefaultBundleKeyAlg is OPA's default algorithm of a verification key
// (`opa build --verification-key`).
const DefaultBundleKeyAlg = "RS256"

// bundleKeyID names the one key. As with `opa build --verification-key`,
// the configured ID selects the key whatever ID the signature names, so
// with one key it is only a label, and upgate has no flag for it.
const bundleKeyID = "default"

// maxBundleFileBytes bounds each file of a bundle once decompressed: a
// policy is kilobytes, and a gzip bomb served as a bundle must not take
// the process's memory (OPA's own default is 1 GiB).
const maxBundleFileBytes = 64 << 20

// Bundle is an OPA bundle of users' policies, read and, when a key was
// given, verified (ReadBundle, ParseBundle); Options.Bundle loads it.
type Bundle struct {
	// Source names the bundle in messages: its path or URL.
	Source string
	// Revision is the manifest's revision, if the bundle has one.
	Revision string
	modules  []bundle.ModuleFile
}

// ReadBundle reads the OPA bundle at path, a bundle tarball (`opa build
// --bundle` writes bundle.tar.gz) or a bundle directory, and verifies its
// signature with key when key is not nil. See readBundle for what is
// refused; every refusal is ErrInvalidPolicy.
func ReadBundle(path string, key *BundleKey) (*Bundle, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --policy-bundle %s: %v", ErrInvalidPolicy, path, err)
	}
	if st.IsDir() {
		return readBundle(path, bundle.NewDirectoryLoader(path), key)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --policy-bundle %s: %v", ErrInvalidPolicy, path, err)
	}
	defer f.Close()
	return ParseBundle(path, f, key)
}

// ParseBundle reads a bundle tarball from r, as an OPA bundle service
// answers it, and verifies its signature with key when key is not nil;
// source names it in messages.
func ParseBundle(source string, r io.Reader, key *BundleKey) (*Bundle, error) {
	return readBundle(source, bundle.NewTarballLoader(r), key)
}

// readBundle reads and verifies a bundle and refuses, as an invalid
// policy, what upgate will not load:
//
//   - with a key: a bundle with no signature, a signature the key does
//     not verify (another key, another scope), or a file whose digest is
//     not the signed one, or that the signature does not list (OPA's
//     reader checks every file, and lists no file as excluded);
//   - without a key: a signed bundle. OPA's reader refuses it too: a
//     signature is there to be checked, and a setting that lost its key
//     must not run the policies unverified;
//   - manifest roots not under upgate (a bundle without roots claims the
//     whole data tree, upgate's own facts included);
//   - data documents, Wasm modules and plans: upgate evaluates Rego
//     modules only, and each policy's constants belong in its module;
//   - a package not under upgate. (checkCustomModule, when New loads it).
//
// *_test.rego modules are verified with the rest but not loaded, as with
// --policy-dir.
func readBundle(source string, loader bundle.DirectoryLoader, key *BundleKey) (*Bundle, error) {
	rd := bundle.NewCustomReader(loader.WithSizeLimitBytes(maxBundleFileBytes)).
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotations(true).
		WithSizeLimitBytes(maxBundleFileBytes).
		// upgate's engine is compiled in full: OPA's lazy mode (set when
		// a bundle-store extension is registered) would skip the data
		// root check.
		WithLazyLoadingMode(false)
	if key != nil {
		alg := key.Alg
		if alg == "" {
			alg = DefaultBundleKeyAlg
		}
		// No file is excluded from the signature.
		rd = rd.WithBundleVerificationConfig(bundle.NewVerificationConfig(
			map[string]*bundle.KeyConfig{bundleKeyID: {Key: key.Key, Algorithm: alg}}, bundleKeyID, key.Scope, nil))
	}
	b, err := rd.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: --policy-bundle %s: %s", ErrInvalidPolicy, source, explainBundleError(err, key != nil))
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: --policy-bundle %s: "+format, append([]any{ErrInvalidPolicy, source}, a...)...)
	}
	if b.Type() != bundle.SnapshotBundleType {
		return nil, bad("a %s bundle: upgate reads whole (snapshot) bundles", b.Type())
	}
	for _, root := range *b.Manifest.Roots {
		if root != Root && !strings.HasPrefix(root, Root+"/") {
			if root == "" {
				return nil, bad(`the manifest declares no roots, so the bundle claims every path: build it with opa build --bundle from a directory whose .manifest says {"roots": ["%s/<topic>"]}`, Root)
			}
			return nil, bad("manifest root %q is not under %s/: upgate only reads policies in packages named %s.<topic>", root, Root, Root)
		}
	}
	if len(b.Data) > 0 {
		return nil, bad("the bundle holds data documents (%s): upgate loads only Rego modules from a bundle; write the values into a module", strings.Join(sortedKeys(b.Data), ", "))
	}
	if len(b.WasmModules) > 0 || len(b.Wasm) > 0 || len(b.PlanModules) > 0 {
		return nil, bad("the bundle holds Wasm modules or plans: upgate evaluates Rego modules only")
	}
	out := &Bundle{Source: source, Revision: b.Manifest.Revision}
	for _, m := range b.Modules {
		if strings.HasSuffix(m.Path, "_test.rego") {
			continue
		}
		out.modules = append(out.modules, m)
	}
	if len(out.modules) == 0 {
		return nil, bad("the bundle holds no policy (no .rego module besides tests)")
	}
	return out, nil
}

// explainBundleError adds the way out to the OPA reader's messages a user
// meets most.
func explainBundleError(err error, keyed bool) string {
	msg := err.Error()
	switch {
	case keyed && strings.Contains(msg, "missing .signatures.json"):
		return "the bundle is not signed (" + msg + "): sign it with `opa build --bundle --signing-key`"
	case !keyed && strings.Contains(msg, "verification key not provided"):
		return "the bundle is signed but no --policy-bundle-key was given to verify it"
	case keyed && (strings.Contains(msg, "signature") || strings.Contains(msg, "digest mismatch") ||
		strings.Contains(msg, "scope mismatch") || strings.Contains(msg, "algorithm")):
		// OPA's messages name the file or the claim but not that the
		// bundle was refused for it.
		return "signature not verified: " + msg
	}
	return msg
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
