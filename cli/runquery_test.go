package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
)

// promQuery serves Prometheus' POST /api/v1/query: answer(n, query)
// gives the status and the body of the n-th request (from 1).
func promQuery(t *testing.T, answer func(n int, query string) (int, string)) string {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		mu.Lock()
		n++
		status, body := answer(n, r.PostForm.Get("query"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func promScalar(v string) (int, string) {
	return 200, fmt.Sprintf(`{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,%q]}}`, v)
}

const budgetQuery = `budget=sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) < bool 0.01`

// TestRunQueryGate: --gate-query and --prometheus-url through the whole
// command. The queries are evaluated once at the start (their state
// printed); a query that does not pass holds the run before a node,
// which resumes and finishes once it passes, the pause (reason query,
// with the query and its value) in the record; one that keeps failing
// past --gate-query-wait stops the run, exit 1, one line naming it and
// its value, nothing touched; an unreachable Prometheus does the same
// (it fails closed).
func TestRunQueryGate(t *testing.T) {
	dir := t.TempDir()
	t.Run("held, then released", func(t *testing.T) {
		cs := fakeCluster(t)
		file := filepath.Join(dir, "resumed.json")
		var sent []string
		// The start's look and the first node's two first looks fail.
		url := promQuery(t, func(n int, q string) (int, string) {
			sent = append(sent, q)
			if n <= 3 {
				return promScalar("0")
			}
			return promScalar("1")
		})
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--output", file, "--prometheus-url", url, "--gate-query", budgetQuery)...)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q\n%s", code, stderr, out)
		}
		for _, want := range []string{
			"Query gates: at " + url + "/api/v1/query before each node and after each node's validation; paused for up to 30m0s while one does not pass.",
			"  budget: does not pass now (the run pauses on it): 0",
			"] PAUSED (query): budget = 0; looking again every 2s for up to 30m0s",
			"] RESUMED: every query passes (paused ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the output does not say %q:\n%s", want, out)
			}
		}
		if want := strings.TrimPrefix(budgetQuery, "budget="); len(sent) == 0 || sent[0] != want {
			t.Errorf("queries sent %q, want %q", sent, want)
		}
		verdict, pauses := runPauses(t, file)
		if verdict != "done" || len(pauses) != 1 || pauses[0].Reason != "query" || pauses[0].Result != "resumed" || len(pauses[0].Queries) != 1 ||
			pauses[0].Queries[0].Name != "budget" || pauses[0].Queries[0].Value != "0" || pauses[0].Queries[0].Query != strings.TrimPrefix(budgetQuery, "budget=") {
			t.Errorf("record: verdict %s, pauses %+v", verdict, pauses)
		}
		assertNoPauseNotice(t, cs)
	})
	t.Run("failing past --gate-query-wait", func(t *testing.T) {
		cs := fakeCluster(t)
		file := filepath.Join(dir, "stopped.json")
		url := promQuery(t, func(int, string) (int, string) {
			return 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`
		})
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--output", file, "--prometheus-url", url, "--gate-query", budgetQuery, "--gate-query-wait", "0s")...)
		if code != 1 || !strings.Contains(stderr, "budget: no data") || !strings.Contains(stderr, "--gate-query-wait") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("exit %d, stderr %q; want 1 and one line naming the query\n%s", code, stderr, out)
		}
		if !strings.Contains(out, "STOPPED (query): budget: no data") {
			t.Errorf("the output does not say STOPPED (query):\n%s", out)
		}
		untouched(t, cs)
		verdict, pauses := runPauses(t, file)
		if verdict != "blocked" || len(pauses) != 1 || pauses[0].Reason != "query" || pauses[0].Result != "stopped" {
			t.Errorf("record: verdict %s, pauses %+v", verdict, pauses)
		}
	})
	t.Run("dry run", func(t *testing.T) {
		// Evaluated once at the start, as a run would; the executor's
		// gates are not: no node is passed.
		cs := fakeCluster(t)
		looks := 0
		url := promQuery(t, func(int, string) (int, string) {
			looks++
			return promScalar("0.0042")
		})
		code, out, stderr := runOn(t, context.Background(), cs, false, "", "run", "--target", "v1.36", "--dry-run", "--prometheus-url", url, "--gate-query", budgetQuery)
		if code != 0 || looks != 1 || !strings.Contains(out, "  budget: passes now: 0.0042") {
			t.Errorf("exit %d, %d looks, stderr %q\n%s", code, looks, stderr, out)
		}
		untouched(t, cs)
	})
	t.Run("unreachable fails closed", func(t *testing.T) {
		cs := fakeCluster(t)
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		code, out, stderr := runOn(t, context.Background(), cs, false, "", append(append([]string{}, runArgs...), "--yes", "--prometheus-url", url, "--gate-query", budgetQuery, "--gate-query-wait", "0s")...)
		if code != 1 || !strings.Contains(stderr, "cannot be read") {
			t.Errorf("exit %d, stderr %q; want 1 saying Prometheus cannot be read\n%s", code, stderr, out)
		}
		untouched(t, cs)
	})
}

func assertNoPauseNotice(t *testing.T, cs *fake.Clientset) {
	t.Helper()
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if v, ok := n.Annotations["upgate.dev/paused"]; ok {
			t.Errorf("node %s keeps upgate.dev/paused %q", n.Name, v)
		}
	}
}

// TestRunQueryFlags: bad query gate settings are exit 2, one line naming
// the flag, before anything changes: a query Prometheus refuses as
// bad_data at the start too (no lock taken, no node touched).
func TestRunQueryFlags(t *testing.T) {
	badData := promQuery(t, func(int, string) (int, string) {
		return 400, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:14: parse error: unclosed left parenthesis"}`
	})
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"query without url", []string{"--gate-query", "up=up == 1"}, nil, "--gate-query needs --prometheus-url"},
		{"url without query", []string{"--prometheus-url", "http://prometheus:9090"}, nil, "--prometheus-url needs --gate-query"},
		{"not NAME=PROMQL", []string{"--prometheus-url", "http://prometheus:9090", "--gate-query", "up"}, nil, "is not NAME=PROMQL"},
		{"empty name", []string{"--prometheus-url", "http://prometheus:9090", "--gate-query", "=up"}, nil, "--gate-query"},
		{"bad name", []string{"--prometheus-url", "http://prometheus:9090", "--gate-query", "my budget=up"}, nil, "letters, digits"},
		{"empty query", []string{"--prometheus-url", "http://prometheus:9090", "--gate-query", "up="}, nil, "is empty"},
		{"name twice", []string{"--prometheus-url", "http://prometheus:9090", "--gate-query", "up=up", "--gate-query", "up=up == 1"}, nil, "given twice"},
		{"bad url", []string{"--prometheus-url", "prometheus:9090", "--gate-query", "up=up"}, nil, "--prometheus-url"},
		{"bad url from the environment", []string{"--gate-query", "up=up"}, map[string]string{"UPGATE_PROMETHEUS_URL": "ftp://p"}, "--prometheus-url"},
		{"negative wait", []string{"--prometheus-url", "http://prometheus:9090", "--gate-query", "up=up", "--gate-query-wait", "-1m"}, nil, "--gate-query-wait"},
		{"bad_data at the start", []string{"--prometheus-url", badData, "--gate-query", "budget=sum(rate(x[5m])"}, nil, "--gate-query budget: Prometheus refuses the query: Prometheus " + badData + " answered 400, bad_data: invalid parameter \"query\": 1:14: parse error"},
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
			if leases, _ := cs.CoordinationV1().Leases("").List(context.Background(), metav1.ListOptions{}); len(leases.Items) != 0 {
				t.Errorf("the lock was taken: %v", leases.Items)
			}
		})
	}
}

// TestRunQuerySettingsFromTheConfig: the queries come from the config
// file's list, or one from UPGATE_GATE_QUERY, commas and all.
func TestRunQuerySettingsFromTheConfig(t *testing.T) {
	cmd := NewRootCommand("upgate", genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	run, _, err := cmd.Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "upgate.yaml")
	if err := os.WriteFile(file, []byte("prometheus-url: http://p:9090\ngate-query:\n- 'a=sum by (job, pod) (up) > 0'\n- b=vector(1)\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(run, file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PrometheusURL != "http://p:9090" || strings.Join(cfg.GateQueries, "|") != "a=sum by (job, pod) (up) > 0|b=vector(1)" || cfg.GateQueryWait != defaultAlertWait {
		t.Errorf("from the file: %q %q %v", cfg.PrometheusURL, cfg.GateQueries, cfg.GateQueryWait)
	}
	t.Setenv("UPGATE_GATE_QUERY", "c=sum by (job, pod) (up) > 0")
	t.Setenv("UPGATE_GATE_QUERY_WAIT", "1h")
	if cfg, err = loadConfig(run, ""); err != nil || strings.Join(cfg.GateQueries, "|") != "c=sum by (job, pod) (up) > 0" || cfg.GateQueryWait != time.Hour {
		t.Errorf("from the environment: %q %v %v", cfg.GateQueries, cfg.GateQueryWait, err)
	}
	// A flag on the command line is one query, commas and all.
	if err := run.Flags().Set("gate-query", "d=sum by (job, pod) (up) > 0"); err != nil {
		t.Fatal(err)
	}
	if cfg, err = loadConfig(run, ""); err != nil || strings.Join(cfg.GateQueries, "|") != "d=sum by (job, pod) (up) > 0" {
		t.Errorf("from the flag: %q %v", cfg.GateQueries, err)
	}
}
