package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const cosignReason = "upgate signs and verifies reports with a cosign key pair only, never a certificate chain"

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fixture      string
		accepted     string
		wantOK       bool
		wantAccepted []string
		wantFailing  []string
		wantStale    []string
		wantNotCalld int
	}{
		{
			name:         "the accepted vulnerability is called: pass, and it is listed",
			fixture:      "cosign-called.json",
			accepted:     "GO-2026-4529  " + cosignReason + "\n",
			wantOK:       true,
			wantAccepted: []string{"GO-2026-4529"},
			wantNotCalld: 1, // GO-2026-6809: crypto/x509 imported, not called
		},
		{
			name:         "a called vulnerability nobody accepted fails",
			fixture:      "cosign-called.json",
			accepted:     "# nothing accepted\n",
			wantOK:       false,
			wantFailing:  []string{"GO-2026-4529"},
			wantNotCalld: 1,
		},
		{
			name:         "accepting one does not hide another that is called",
			fixture:      "cosign-and-stdlib-called.json",
			accepted:     "GO-2026-4529\t" + cosignReason + "\n",
			wantOK:       false,
			wantAccepted: []string{"GO-2026-4529"},
			wantFailing:  []string{"GO-2026-6809"},
		},
		{
			name:         "an accepted ID only imported, no longer called, is stale",
			fixture:      "cosign-imported-only.json",
			accepted:     "GO-2026-4529  " + cosignReason + "\n",
			wantOK:       false,
			wantStale:    []string{"GO-2026-4529"},
			wantNotCalld: 1,
		},
		{
			name:      "an accepted ID no longer reported at all is stale",
			fixture:   "clean.json",
			accepted:  "GO-2026-4529  " + cosignReason + "\nGO-2026-0001  another reason\n",
			wantOK:    false,
			wantStale: []string{"GO-2026-0001", "GO-2026-4529"},
		},
		{
			name:     "nothing reported and nothing accepted passes",
			fixture:  "clean.json",
			accepted: "",
			wantOK:   true,
		},
		{
			name:         "vulnerabilities only imported, never called, do not fail",
			fixture:      "cosign-imported-only.json",
			accepted:     "",
			wantOK:       true,
			wantNotCalld: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scan := parseFixture(t, tc.fixture)
			accepted, err := ParseAccepted(strings.NewReader(tc.accepted))
			if err != nil {
				t.Fatalf("ParseAccepted: %v", err)
			}
			d := Decide(scan, accepted)
			if d.OK() != tc.wantOK {
				t.Errorf("OK() = %v, want %v", d.OK(), tc.wantOK)
			}
			var gotAccepted, gotFailing []string
			for _, v := range d.Accepted {
				gotAccepted = append(gotAccepted, v.ID)
				if v.Reason != accepted[v.ID] {
					t.Errorf("%s: reason %q, want %q", v.ID, v.Reason, accepted[v.ID])
				}
			}
			for _, v := range d.Failing {
				gotFailing = append(gotFailing, v.ID)
			}
			check(t, "accepted", gotAccepted, tc.wantAccepted)
			check(t, "failing", gotFailing, tc.wantFailing)
			check(t, "stale", d.Stale, tc.wantStale)
			if scan.NotCalled != tc.wantNotCalld {
				t.Errorf("NotCalled = %d, want %d", scan.NotCalled, tc.wantNotCalld)
			}
		})
	}
}

func TestParseScanKeepsTheShortestCallPath(t *testing.T) {
	scan := parseFixture(t, "cosign-called.json")
	if len(scan.Called) != 1 {
		t.Fatalf("called = %+v, want GO-2026-4529 only", scan.Called)
	}
	want := Vuln{
		ID:      "GO-2026-4529",
		Summary: "Cosign considered signatures valid with expired intermediate certificates",
		Module:  "github.com/sigstore/cosign/v2@v2.6.5",
		Trace:   "reports.VerifyBytes (reports/sign.go:90) -> cosign.VerifyBlobSignature",
	}
	if scan.Called[0] != want {
		t.Errorf("called[0] =\n %+v\nwant\n %+v", scan.Called[0], want)
	}
	std := parseFixture(t, "cosign-and-stdlib-called.json").Called[1]
	if std.Module != "stdlib@v1.27.2" || std.Fixed != "v1.27.3" || std.Trace != "service.serveTLS (service/tls.go:12) -> x509.Certificate.Verify" {
		t.Errorf("stdlib finding = %+v", std)
	}
}

func TestParseScanRejectsWhatIsNotACompleteSymbolScan(t *testing.T) {
	for fixture, want := range map[string]string{
		"no-config.json":    "no config message",
		"truncated.json":    "object 7",
		"module-level.json": `level "module"`,
	} {
		f, err := os.Open(filepath.Join("testdata", fixture))
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParseScan(f)
		f.Close()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", fixture, err, want)
		}
	}
	if _, err := ParseScan(strings.NewReader("")); err == nil {
		t.Error("an empty stream passed")
	}
	if _, err := ParseScan(strings.NewReader("Your code is affected by 1 vulnerability\n")); err == nil {
		t.Error("govulncheck's text output passed as JSON")
	}
}

func TestParseAccepted(t *testing.T) {
	got, err := ParseAccepted(strings.NewReader("# comment\n\nGO-2026-4529   keys only,  no certificates  \nGO-2026-10000\tanother\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"GO-2026-4529": "keys only,  no certificates", "GO-2026-10000": "another"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for in, wantErr := range map[string]string{
		"GO-2026-4529\n":                   "no reason",
		"GO-2026-4529   \n":                "no reason",
		"CVE-2026-24122 a CVE id\n":        "not a Go vulnerability ID",
		"GO-2026-4529 a\nGO-2026-4529 b\n": "listed twice",
	} {
		if _, err := ParseAccepted(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: error %v, want one containing %q", in, err, wantErr)
		}
	}
}

// TestRun checks the command end to end on saved streams and on a fake
// govulncheck: the exit code, and that an accepted finding is printed.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	acceptedFile := filepath.Join(dir, "accepted.txt")
	if err := os.WriteFile(acceptedFile, []byte("GO-2026-4529  "+cosignReason+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fixture, _ := filepath.Abs(filepath.Join("testdata", "cosign-called.json"))
	fake := func(name, script string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"saved stream, accepted finding", []string{"-input", fixture}, 0,
			[]string{"ACCEPTED GO-2026-4529", "why it does not apply: " + cosignReason, "vulncheck: PASS"}},
		{"saved stream, stdlib finding not accepted", []string{"-input", filepath.Join("testdata", "cosign-and-stdlib-called.json")}, 1,
			[]string{"VULNERABLE GO-2026-6809", "fixed in: v1.27.3", "ACCEPTED GO-2026-4529", "vulncheck: FAIL"}},
		{"saved stream, stale entry", []string{"-input", filepath.Join("testdata", "clean.json")}, 1,
			[]string{"STALE GO-2026-4529", "vulncheck: FAIL"}},
		{"govulncheck run, its arguments passed on", []string{"-govulncheck",
			fake("ok", `[ "$*" = "-format json -db file:///db ./..." ] || { echo "bad args: $*" >&2; exit 9; }; cat `+fixture+"\n"),
			"-db", "file:///db", "./..."}, 0, []string{"ACCEPTED GO-2026-4529", "vulncheck: PASS"}},
		{"govulncheck fails after good output", []string{"-govulncheck", fake("fails", "cat "+fixture+"\necho boom >&2\nexit 1\n")}, 2, nil},
		{"govulncheck prints nothing", []string{"-govulncheck", fake("silent", "exit 0\n")}, 2, nil},
		{"govulncheck missing", []string{"-govulncheck", filepath.Join(dir, "absent")}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(append([]string{"-accepted", acceptedFile}, tc.args...), &out, &errOut)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out.String(), errOut.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	var out, errOut bytes.Buffer
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("GO-2026-4529\n"), 0o644)
	if code := run([]string{"-accepted", bad, "-input", fixture}, &out, &errOut); code != 2 {
		t.Errorf("an accepted entry without a reason: exit %d, want 2", code)
	}
}

func parseFixture(t *testing.T, name string) *Scan {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseScan(f)
	if err != nil {
		t.Fatalf("ParseScan(%s): %v", name, err)
	}
	return s
}

func check(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
