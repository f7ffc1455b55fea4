package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// promAlerts serves Prometheus' /api/v1/alerts: firing(n) says which
// alerts fire at the n-th request (from 1).
func promAlerts(t *testing.T, firing func(n int) []string) string {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		names := firing(n)
		mu.Unlock()
		type alert struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		}
		alerts := []alert{{Labels: map[string]string{"alertname": "SlowBurn"}, State: "pending"}}
		for _, a := range names {
			alerts = append(alerts, alert{Labels: map[string]string{"alertname": a}, State: "firing"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"alerts": alerts}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v1/alerts"
}

// recordedPause is one pause of a run record, alert or query.
type recordedPause struct {
	Reason, Before, Result string
	Alerts                 []string
	Queries                []struct{ Name, Query, Value, Error string }
	Start, End             time.Time
}

// runPauses reads the verdict and the pauses of a run record.
func runPauses(t *testing.T, file string) (string, []recordedPause) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Verdict string
		Pauses  []recordedPause
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Verdict, rec.Pauses
}

// TestRunAlertGate: --alert-url through the whole command. A firing alert
// past --alert-wait stops the run before any node, exit 1 naming it, the
// record blocked with the pause; an unreadable source does the same (it
// fails closed); an alert --alert-filter matches, or one only pending,
// does not block; an alert that resolves pauses the run, which then
// finishes, the pause in its record.
func TestRunAlertGate(t *testing.T) {
	dir := t.TempDir()
	t.Run("firing past --alert-wait", func(t *testing.T) {
		cs := fakeCluster(t)
		file := filepath.Join(dir, "firing.json")
		url := promAlerts(t, func(int) []string { return []string{"NodeDown"} })
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--output", file, "--alert-url", url, "--alert-wait", "0s")...)
		if code != 1 || !strings.Contains(stderr, "NodeDown") || !strings.Contains(stderr, "--alert-wait") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("exit %d, stderr %q; want 1 and one line naming the alert\n%s", code, stderr, out)
		}
		if !strings.Contains(out, "Alert gate: prometheus "+url) {
			t.Errorf("the output does not name the alert gate:\n%s", out)
		}
		untouched(t, cs)
		verdict, pauses := runPauses(t, file)
		if verdict != "blocked" || len(pauses) != 1 || pauses[0].Reason != "alert" || pauses[0].Result != "stopped" || strings.Join(pauses[0].Alerts, ",") != "NodeDown" {
			t.Errorf("record: verdict %s, pauses %+v", verdict, pauses)
		}
	})
	t.Run("unreadable source fails closed", func(t *testing.T) {
		cs := fakeCluster(t)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--alert-url", srv.URL+"/api/v2/alerts", "--alert-wait", "0s")...)
		if code != 1 || !strings.Contains(stderr, "cannot be read") || !strings.Contains(stderr, "503") {
			t.Errorf("exit %d, stderr %q; want 1 saying the source cannot be read\n%s", code, stderr, out)
		}
		untouched(t, cs)
	})
	t.Run("filtered and pending do not block", func(t *testing.T) {
		cs := fakeCluster(t)
		url := promAlerts(t, func(int) []string { return []string{"Watchdog"} })
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--alert-url", url, "--alert-filter", "^Watchdog$", "--alert-wait", "0s")...)
		if code != 0 {
			t.Errorf("exit %d, stderr %q\n%s", code, stderr, out)
		}
	})
	t.Run("resolves: pauses, then finishes", func(t *testing.T) {
		cs := fakeCluster(t)
		file := filepath.Join(dir, "resumed.json")
		// Fires at the first look only (before the etcd backup).
		url := promAlerts(t, func(n int) []string {
			if n == 1 {
				return []string{"KubeAPIErrorBudgetBurn"}
			}
			return nil
		})
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--output", file, "--alert-url", url)...)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q\n%s", code, stderr, out)
		}
		if !strings.Contains(out, "PAUSED (alert): firing: KubeAPIErrorBudgetBurn") || !strings.Contains(out, "RESUMED") {
			t.Errorf("the output does not say the run paused and resumed:\n%s", out)
		}
		verdict, pauses := runPauses(t, file)
		if verdict != "done" || len(pauses) != 1 || pauses[0].Result != "resumed" || !strings.HasSuffix(pauses[0].Before, "etcd-backup") || pauses[0].End.Before(pauses[0].Start) {
			t.Errorf("record: verdict %s, pauses %+v", verdict, pauses)
		}
	})
}

// TestRunAlertFlags: a filter that is not a regexp, a URL naming neither
// API, a filter without a URL: exit 2, one line naming the flag, nothing
// touched; from the environment as from the flags.
func TestRunAlertFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"filter not a regexp", []string{"--alert-url", "http://prometheus:9090/api/v1/alerts", "--alert-filter", "(Watchdog"}, nil, "--alert-filter"},
		{"filter not a regexp, from the environment", []string{"--alert-url", "http://prometheus:9090/api/v1/alerts"}, map[string]string{"UPGATE_ALERT_FILTER": "(Watchdog"}, "--alert-filter"},
		{"url names neither API", []string{"--alert-url", "http://prometheus:9090/"}, nil, "--alert-url"},
		{"url from the environment", nil, map[string]string{"UPGATE_ALERT_URL": "ftp://prometheus/api/v1/alerts"}, "--alert-url"},
		{"filter without url", []string{"--alert-filter", "Watchdog"}, nil, "--alert-filter needs --alert-url"},
		{"negative wait", []string{"--alert-url", "http://prometheus:9090/api/v1/alerts", "--alert-wait", "-1m"}, nil, "--alert-wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cs := fakeCluster(t)
			code, _, stderr := runOn(t, context.Background(), cs, false, "", append(append(append([]string{}, runArgs...), "--yes"), tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, stderr, tc.want)
			}
			untouched(t, cs)
		})
	}
}

// TestRunAlertSettingsFromTheConfig: the alert settings come from the one
// config like every other: the file, UPGATE_ALERT_*, the flag default.
func TestRunAlertSettingsFromTheConfig(t *testing.T) {
	cmd := NewRootCommand("upgate", genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	run, _, err := cmd.Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "upgate.yaml")
	if err := os.WriteFile(file, []byte("alert-url: http://am:9093/api/v2/alerts\nalert-filter: ^Watchdog$\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(run, file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AlertURL != "http://am:9093/api/v2/alerts" || cfg.AlertFilter != "^Watchdog$" || cfg.AlertWait != defaultAlertWait {
		t.Errorf("from the file: %q %q %v", cfg.AlertURL, cfg.AlertFilter, cfg.AlertWait)
	}
	t.Setenv("UPGATE_ALERT_WAIT", "1h")
	if cfg, err = loadConfig(run, file); err != nil || cfg.AlertWait != time.Hour {
		t.Errorf("UPGATE_ALERT_WAIT=1h: %v %v", cfg.AlertWait, err)
	}
}
