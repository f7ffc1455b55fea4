package reports

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// cosignVerifyAttestation runs the CLI; with no CLI (bin "", under -short)
// it returns want, so callers assert only on our verifier.
func cosignVerifyAttestation(t *testing.T, bin, file, att, pub, predicateType string, want bool) (string, error) {
	if bin == "" {
		if want {
			return "", nil
		}
		return "", errors.New("no cosign CLI")
	}
	return runCosign(t, bin, nil, "verify-blob-attestation", "--key", pub, "--signature", att,
		"--type", predicateType, "--insecure-ignore-tlog=true", file)
}

// An attestation over a text report carries the structured report; both
// our verifier and cosign verify-blob-attestation accept it, and reject it
// once the file changes or under another key.
func TestAttestFileAgreesWithCosign(t *testing.T) {
	bin := cosignCLI(t)
	for _, ka := range keyAlgorithms {
		t.Run(ka.name, func(t *testing.T) {
			priv, pub := keyPair(t, "signer", ka.algo)
			_, otherPub := keyPair(t, "other", ka.algo)
			var text bytes.Buffer
			if err := Render(&text, blockedReport(), FormatText, RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			report := filepath.Join(t.TempDir(), "report.txt")
			writeFile(t, report, text.String())

			if err := AttestFile(report, blockedReport(), priv, []byte(testPassword)); err != nil {
				t.Fatalf("AttestFile: %v", err)
			}
			att := report + AttestationSuffix
			got, err := VerifyAttestationFile(report, "", pub)
			if err != nil {
				t.Fatalf("VerifyAttestationFile: %v", err)
			}
			if !reflect.DeepEqual(got, blockedReport()) {
				t.Errorf("attested report differs from the one signed:\n got %+v\nwant %+v", got, blockedReport())
			}
			if out, err := cosignVerifyAttestation(t, bin, report, att, pub, PredicateType, true); err != nil {
				t.Fatalf("cosign verify-blob-attestation rejects our attestation: %v\n%s", err, out)
			}

			if out, err := cosignVerifyAttestation(t, bin, report, att, pub, "https://example.com/other/v1", false); err == nil {
				t.Errorf("cosign accepted the attestation as another predicate type:\n%s", out)
			}
			if _, err := VerifyAttestationFile(report, att, otherPub); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyAttestationFile under another key = %v, want ErrBadSignature", err)
			}
			if out, err := cosignVerifyAttestation(t, bin, report, att, otherPub, PredicateType, false); err == nil {
				t.Errorf("cosign accepted the attestation under another key:\n%s", out)
			}
			flipByte(t, report, 3)
			if _, err := VerifyAttestationFile(report, att, pub); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyAttestationFile of a changed file = %v, want ErrBadSignature", err)
			}
			if out, err := cosignVerifyAttestation(t, bin, report, att, pub, PredicateType, false); err == nil {
				t.Errorf("cosign accepted the attestation of a changed file:\n%s", out)
			}
		})
	}
}

func TestAttestFileBadKey(t *testing.T) {
	priv, _ := keyPair(t, "signer", keyAlgorithms[0].algo)
	report := writeReport(t, t.TempDir())
	if err := AttestFile(report, blockedReport(), priv, []byte("wrong")); !errors.Is(err, ErrBadKey) {
		t.Errorf("AttestFile with a wrong password = %v, want ErrBadKey", err)
	}
	if _, err := os.Stat(report + AttestationSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an attestation was written despite the bad key (stat: %v)", err)
	}
}
