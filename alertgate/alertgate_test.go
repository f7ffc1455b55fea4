package alertgate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

const promBody = `{"status":"success","data":{"alerts":[
 {"labels":{"alertname":"NodeDown","severity":"critical"},"state":"firing"},
 {"labels":{"alertname":"NodeDown","instance":"b"},"state":"firing"},
 {"labels":{"alertname":"Watchdog"},"state":"firing"},
 {"labels":{"alertname":"DiskFilling"},"state":"pending"},
 {"labels":{"severity":"warning"},"state":"firing"}]}}`

const amBody = `[
 {"labels":{"alertname":"NodeDown"},"status":{"state":"active","silencedBy":[],"inhibitedBy":[]}},
 {"labels":{"alertname":"Watchdog"},"status":{"state":"active"}},
 {"labels":{"alertname":"Silenced"},"status":{"state":"suppressed","silencedBy":["x"]}},
 {"labels":{"alertname":"Fresh"},"status":{"state":"unprocessed"}}]`

func serve(t *testing.T, path string, code int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + path
}

// TestBlocking: which alerts block, for both APIs, with and without the
// filter: Prometheus' pending and Alertmanager's suppressed do not;
// unprocessed does (not yet checked against silences); an alert without
// a name blocks under a name that says so; the filter lets names through.
func TestBlocking(t *testing.T) {
	for _, tc := range []struct {
		name, path, body, filter string
		want                     []string
	}{
		{"prometheus", PrometheusPath, promBody, "", []string{NoName, "NodeDown", "Watchdog"}},
		{"prometheus filtered", PrometheusPath, promBody, "^(Watchdog|InfoInhibitor)$", []string{NoName, "NodeDown"}},
		{"prometheus none firing", PrometheusPath, `{"status":"success","data":{"alerts":[]}}`, "", nil},
		{"alertmanager", AlertmanagerPath, amBody, "", []string{"Fresh", "NodeDown", "Watchdog"}},
		{"alertmanager filtered", AlertmanagerPath, amBody, "Watchdog|Fresh", []string{"NodeDown"}},
		{"alertmanager empty", AlertmanagerPath, `[]`, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(serve(t, tc.path, 200, tc.body), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Blocking(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Blocking = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBlockingFailsClosed: a source that cannot be read is an error
// naming its URL, never an empty list.
func TestBlockingFailsClosed(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL + PrometheusPath
	gone.Close()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"500", serve(t, PrometheusPath, 500, "boom"), "500"},
		{"bad json", serve(t, PrometheusPath, 200, "<html>"), "not Prometheus' alerts JSON"},
		{"no data", serve(t, PrometheusPath, 200, `{"status":"success"}`), "no data.alerts"},
		{"error status", serve(t, PrometheusPath, 200, `{"status":"error","error":"overloaded"}`), "overloaded"},
		{"alertmanager object", serve(t, AlertmanagerPath, 200, `{"alerts":[]}`), "not Alertmanager's alerts JSON"},
		{"alertmanager null", serve(t, AlertmanagerPath, 200, `null`), "not Alertmanager's alerts JSON"},
		{"unreachable", goneURL, "cannot be read"},
		{"hangs", hang.URL + AlertmanagerPath, "cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.url, "")
			if err != nil {
				t.Fatal(err)
			}
			s.Timeout = 200 * time.Millisecond
			got, err := s.Blocking(context.Background())
			if err == nil {
				t.Fatalf("Blocking = %q, nil; want an error", got)
			}
			if !strings.Contains(err.Error(), tc.url) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s and %q", err, tc.url, tc.want)
			}
		})
	}
}

// TestNew: the URL must name one of the two APIs; the filter must compile.
func TestNew(t *testing.T) {
	for _, tc := range []struct {
		url, filter, kind, wantErr string
	}{
		{"http://prometheus:9090/api/v1/alerts", "", Prometheus, ""},
		{"https://am.example/alertmanager/api/v2/alerts/?silenced=false", "", Alertmanager, ""},
		{"http://prometheus:9090", "", "", "names neither"},
		{"http://prometheus:9090/api/v1/rules", "", "", "names neither"},
		{"prometheus:9090/api/v1/alerts", "", "", "not an http or https URL"},
		{"http://prometheus:9090/api/v1/alerts", "(", "", "filter"},
	} {
		s, err := New(tc.url, tc.filter)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("New(%q, %q) = %v, want an error with %q", tc.url, tc.filter, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("New(%q, %q): %v", tc.url, tc.filter, err)
		case tc.wantErr == "" && s.Kind != tc.kind:
			t.Errorf("New(%q).Kind = %q, want %q", tc.url, s.Kind, tc.kind)
		}
	}
}
