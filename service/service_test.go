package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/upgate-dev/upgate/finding"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestServerReportsChecksAndFailsClosed(t *testing.T) {
	blocked := finding.New(finding.PhasePreflight, "v1.35.2", "v1.36", []finding.Finding{
		{Check: "safety.singleton", Severity: finding.SeverityBlock, Subject: finding.Subject{Kind: "Deployment", Namespace: "a", Name: "db"}},
		{Check: "health.node-cordoned", Severity: finding.SeverityWarn, Subject: finding.Subject{Kind: "Node", Name: "n"}},
	}, finding.Input{Source: "cluster"}, finding.Producer{UpgateVersion: "test"}, time.Unix(1700000000, 0))
	var fail error
	s, err := New(func(context.Context) (*finding.Report, error) { return blocked, fail }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz before any check = %d, want 503", code)
	}
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("healthz = %d", code)
	}
	s.RunOnce(context.Background())
	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("readyz after a check = %d, want 200", code)
	}
	_, metrics := get(t, h, "/metrics")
	for _, want := range []string{
		"upgate_upgrade_blocked 1",
		`upgate_findings{check="safety.singleton",severity="block"} 1`,
		`upgate_findings{check="health.node-cordoned",severity="warn"} 1`,
		`upgate_check_runs_total{result="blocked"} 1`,
		"upgate_check_up 1",
		"upgate_last_check_timestamp_seconds 1.7e+09",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	if code, body := get(t, h, "/report"); code != 200 || !strings.Contains(body, `"verdict": "blocked"`) {
		t.Errorf("/report = %d %s", code, body)
	}
	fail = errors.New("forbidden")
	s.RunOnce(context.Background())
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "forbidden") {
		t.Errorf("readyz after a failed check = %d %q, want 503 naming the failure", code, body)
	}
	_, metrics = get(t, h, "/metrics")
	if !strings.Contains(metrics, "upgate_check_up 0") || !strings.Contains(metrics, `upgate_check_runs_total{result="error"} 1`) {
		t.Errorf("a failed check must show as down:\n%s", metrics)
	}
}

func TestServerSignsTheBytesItServes(t *testing.T) {
	rep := finding.New(finding.PhasePreflight, "v1.35.2", "v1.36", nil,
		finding.Input{Source: "cluster"}, finding.Producer{UpgateVersion: "test"}, time.Unix(1700000000, 0))
	sign := func(data []byte) (string, error) { return fmt.Sprintf("sig-of-%d-bytes", len(data)), nil }
	s, err := New(func(context.Context) (*finding.Report, error) { return rep, nil }, Options{Sign: sign})
	if err != nil {
		t.Fatal(err)
	}
	s.RunOnce(context.Background())
	h := s.Handler()
	_, body := get(t, h, "/report")
	code, sig := get(t, h, "/report.sig")
	if code != http.StatusOK || sig != fmt.Sprintf("sig-of-%d-bytes", len(body)) {
		t.Errorf("/report.sig = %d %q, want the signature of the %d bytes /report served", code, sig, len(body))
	}

	// Signing that fails serves no report and counts as a failed check.
	failing, err := New(func(context.Context) (*finding.Report, error) { return rep, nil },
		Options{Sign: func([]byte) (string, error) { return "", errors.New("key gone") }})
	if err != nil {
		t.Fatal(err)
	}
	failing.RunOnce(context.Background())
	if code, _ := get(t, failing.Handler(), "/report"); code != http.StatusServiceUnavailable {
		t.Errorf("/report after a failed signature = %d, want 503", code)
	}
	if code, body := get(t, failing.Handler(), "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "key gone") {
		t.Errorf("/readyz = %d %q", code, body)
	}
	// Without signing there is no signature to fetch.
	plain, _ := New(func(context.Context) (*finding.Report, error) { return rep, nil }, Options{})
	plain.RunOnce(context.Background())
	if code, _ := get(t, plain.Handler(), "/report.sig"); code != http.StatusNotFound {
		t.Errorf("/report.sig without signing = %d, want 404", code)
	}
}
