// Package signing signs and verifies upgate's reports and run records with
// cosign's own libraries: a signature `cosign verify-blob` accepts, made
// offline with a cosign key pair.
package signing

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/upgate-dev/upgate/atomicfile"
)

// Signed reports are cosign "blob" signatures made offline: no Fulcio, no
// Rekor, no network. The .sig file holds the base64 signature over the
// report's exact bytes, as `cosign sign-blob --key K --tlog-upload=false`
// writes it, so auditors can check a report with stock cosign:
//
//	cosign verify-blob --key cosign.pub --signature FILE.sig --insecure-ignore-tlog=true FILE

var (
	// ErrBadKey: a key that cannot be read, parsed or decrypted (wrong
	// password). Bad input, exit 2: the operator must fix the key or
	// COSIGN_PASSWORD.
	ErrBadKey = errors.New("bad key")
	// ErrBadSignature: the signature is missing, malformed or does not
	// match the file under the key. The report cannot be trusted, exit 1.
	ErrBadSignature = errors.New("bad signature")
)

// SigSuffix is appended to a report's path to name its signature file.
const SigSuffix = ".sig"

// SignFile signs the exact bytes of the file at path with the cosign
// private key at keyPath (decrypted with password, COSIGN_PASSWORD to the
// CLI) and writes the base64 signature to path+".sig", atomically.
func SignFile(path, keyPath string, password []byte) error {
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("%w: reading private key: %w", ErrBadKey, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	sig, err := SignBytes(data, key, password)
	if err != nil {
		return fmt.Errorf("sign %s with %s: %w", path, keyPath, err)
	}
	if err := atomicfile.WriteFile(path+SigSuffix, []byte(sig)); err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	return nil
}

// SignBytes returns the base64 signature of data under a cosign private key
// (PEM, encrypted as `cosign generate-key-pair` writes it). It lets the
// in-cluster service sign a report it holds in memory.
func SignBytes(data, privateKeyPEM, password []byte) (string, error) {
	sv, err := loadSigner(privateKeyPEM, password)
	if err != nil {
		return "", err
	}
	sig, err := sv.SignMessage(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	// No trailing newline: byte for byte what cosign writes.
	return base64.StdEncoding.EncodeToString(sig), nil
}

// loadSigner decrypts the key with cosign's own loader, so every key type
// cosign generates or imports (ECDSA, RSA, ed25519) signs as it would.
func loadSigner(privateKeyPEM, password []byte) (signature.SignerVerifier, error) {
	// An empty option list, not nil: with nil cosign picks ed25519ph for
	// ed25519 keys, which it only uses with a transparency log; sign-blob
	// with --tlog-upload=false signs plain ed25519, and so do we.
	sv, err := cosign.LoadPrivateKey(privateKeyPEM, password, &[]signature.LoadOption{})
	if err != nil {
		// The library reports a wrong password only in its message; say
		// what to do about it, still as ErrBadKey.
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, fmt.Errorf("%w: wrong password for the private key (set COSIGN_PASSWORD): %w", ErrBadKey, err)
		}
		return nil, fmt.Errorf("%w: loading cosign private key: %w", ErrBadKey, err)
	}
	return sv, nil
}

// VerifyFile checks that sigPath holds a valid signature over the exact
// bytes of path under the PEM public key at pubKeyPath, giving the answer
// `cosign verify-blob --insecure-ignore-tlog=true` gives. An empty sigPath
// means path+".sig".
func VerifyFile(path, sigPath, pubKeyPath string) error {
	if sigPath == "" {
		sigPath = path + SigSuffix
	}
	pub, err := os.ReadFile(pubKeyPath)
	if err != nil {
		return fmt.Errorf("%w: reading public key: %w", ErrBadKey, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		// A report whose signature is gone is not trusted: same verdict as
		// a forged one.
		return fmt.Errorf("%w: reading signature of %s: %w", ErrBadSignature, path, err)
	}
	if err := VerifyBytes(data, sig, pub); err != nil {
		return fmt.Errorf("verify %s with %s: %w", path, pubKeyPath, err)
	}
	return nil
}

// VerifyBytes checks a signature (base64, as .sig files hold it, or raw)
// over data under a PEM public key.
func VerifyBytes(data, sig, publicKeyPEM []byte) error {
	v, err := loadVerifier(publicKeyPEM)
	if err != nil {
		return err
	}
	raw := decodeSignature(sig)
	if len(raw) == 0 {
		return fmt.Errorf("%w: signature is empty", ErrBadSignature)
	}
	if err := v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(data)); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// loadVerifier loads the key as cosign verify-blob does: any PEM public
// key, SHA-256 (its --hash default).
func loadVerifier(publicKeyPEM []byte) (signature.Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(publicKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing public key: %w", ErrBadKey, err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: unsupported public key: %w", ErrBadKey, err)
	}
	return v, nil
}

// decodeSignature accepts what cosign accepts: base64 (line breaks are
// ignored, so a trailing newline added by an editor is fine), else the raw
// signature bytes.
func decodeSignature(sig []byte) []byte {
	if raw, err := base64.StdEncoding.DecodeString(string(sig)); err == nil {
		return raw
	}
	return sig
}
