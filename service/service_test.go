package service

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/upgate-dev/upgate/reports"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestServerReportsChecksAndFailsClosed(t *testing.T) {
	blocked := reports.New(reports.PhasePreflight, "v1.35.2", "v1.36", []reports.Finding{
		{Check: "safety.singleton", Severity: reports.SeverityBlock, Subject: reports.Subject{Kind: "Deployment", Namespace: "a", Name: "db"}},
		{Check: "health.node-cordoned", Severity: reports.SeverityWarn, Subject: reports.Subject{Kind: "Node", Name: "n"}},
	}, reports.Input{Source: "cluster"}, reports.Producer{UpgateVersion: "test"}, time.Unix(1700000000, 0))
	var fail error
	s, err := New(func(context.Context) (*reports.Report, error) { return blocked, fail }, Options{})
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
