package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/sigstore/pkg/signature/dsse"
)

// An attestation says more than a signature: not only "these bytes came
// from the key holder" but "this file is an upgate report, and here is the
// report". It is an in-toto statement in a DSSE envelope, as `cosign
// attest-blob` writes one, so stock cosign checks it offline:
//
//	cosign verify-blob-attestation --key cosign.pub --signature FILE.intoto.json \
//	  --type https://upgate.dev/report/v1alpha1 --insecure-ignore-tlog=true FILE

const (
	// PredicateType identifies an upgate report as an in-toto predicate.
	PredicateType = "https://upgate.dev/report/v1alpha1"
	// AttestationSuffix is appended to a report's path to name its
	// attestation.
	AttestationSuffix = ".intoto.json"

	inTotoStatementType = "https://in-toto.io/Statement/v1"
	inTotoPayloadType   = "application/vnd.in-toto+json"
)

type inTotoStatement struct {
	Type          string          `json:"_type"`
	Subject       []inTotoSubject `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type inTotoSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// AttestFile writes path+".intoto.json": a signed in-toto statement whose
// subject is the file at path (whatever format it was rendered in) and
// whose predicate is r as the JSON report. The key is a cosign private key
// as for SignFile.
func AttestFile(path string, r *Report, keyPath string, password []byte) error {
	if r == nil {
		return fmt.Errorf("attest %s: no report", path)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("%w: reading private key: %w", ErrBadKey, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("attest %s: %w", path, err)
	}
	var predicate bytes.Buffer
	if err := renderJSON(&predicate, r); err != nil {
		return fmt.Errorf("attest %s: %w", path, err)
	}
	digest := sha256.Sum256(data)
	statement, err := json.Marshal(inTotoStatement{
		Type:          inTotoStatementType,
		Subject:       []inTotoSubject{{Name: filepath.Base(path), Digest: map[string]string{"sha256": hex.EncodeToString(digest[:])}}},
		PredicateType: PredicateType,
		Predicate:     json.RawMessage(bytes.TrimSpace(predicate.Bytes())),
	})
	if err != nil {
		return fmt.Errorf("attest %s: %w", path, err)
	}
	sv, err := loadSigner(key, password)
	if err != nil {
		return fmt.Errorf("attest %s with %s: %w", path, keyPath, err)
	}
	envelope, err := dsse.WrapSigner(sv, inTotoPayloadType).SignMessage(bytes.NewReader(statement))
	if err != nil {
		return fmt.Errorf("attest %s: signing: %w", path, err)
	}
	if err := WriteFileAtomic(path+AttestationSuffix, envelope); err != nil {
		return fmt.Errorf("attest %s: %w", path, err)
	}
	return nil
}

// VerifyAttestationFile checks the attestation at attPath (empty: path +
// ".intoto.json") against the file at path and the public key, as `cosign
// verify-blob-attestation --type PredicateType` does, and returns the
// attested report.
func VerifyAttestationFile(path, attPath, pubKeyPath string) (*Report, error) {
	if attPath == "" {
		attPath = path + AttestationSuffix
	}
	pub, err := os.ReadFile(pubKeyPath)
	if err != nil {
		return nil, fmt.Errorf("%w: reading public key: %w", ErrBadKey, err)
	}
	v, err := loadVerifier(pub)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verify attestation of %s: %w", path, err)
	}
	env, err := os.ReadFile(attPath)
	if err != nil {
		return nil, fmt.Errorf("%w: reading attestation of %s: %w", ErrBadSignature, path, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: attestation %s: %s", ErrBadSignature, attPath, fmt.Sprintf(format, a...))
	}

	if err := dsse.WrapVerifier(v).VerifySignature(bytes.NewReader(env), nil); err != nil {
		return nil, bad("%v", err)
	}
	// The signature covers payload type and payload; only now is the
	// content worth reading.
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, bad("%v", err)
	}
	if e.PayloadType != inTotoPayloadType {
		return nil, bad("payload type %q, want %q", e.PayloadType, inTotoPayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, bad("payload: %v", err)
	}
	var st inTotoStatement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, bad("statement: %v", err)
	}
	if st.PredicateType != PredicateType {
		return nil, bad("predicate type %q, want %q", st.PredicateType, PredicateType)
	}
	digest := sha256.Sum256(data)
	want := hex.EncodeToString(digest[:])
	if !subjectMatches(st.Subject, want) {
		return nil, bad("no subject has the sha256 of %s (%s)", path, want)
	}
	var r Report
	if err := json.Unmarshal(st.Predicate, &r); err != nil {
		return nil, bad("predicate is not a report: %v", err)
	}
	return &r, nil
}

func subjectMatches(subjects []inTotoSubject, sha256Hex string) bool {
	for _, s := range subjects {
		if s.Digest["sha256"] == sha256Hex {
			return true
		}
	}
	return false
}
