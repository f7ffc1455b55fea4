package querygate

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// prom answers the instant query API with status and body, and records
// the form it was sent.
func prom(t *testing.T, status int, body string) (*Gate, *[]string) {
	t.Helper()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/prom"+QueryPath {
			t.Errorf("%s %s, want POST /prom%s", r.Method, r.URL.Path, QueryPath)
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if r.PostForm.Has("time") {
			t.Error("time sent: the query is evaluated at Prometheus' now")
		}
		got = append(got, r.PostForm.Get("query"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	g, err := New(srv.URL+"/prom/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return g, &got
}

const (
	vecOK   = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1700000000.1,"1"]},{"metric":{"pod":"b"},"value":[1700000000.1,"0.5"]}]}}`
	vecZero = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1700000000.1,"1"]},{"metric":{"__name__":"up","job":"x","pod":"b"},"value":[1700000000.1,"0"]}]}}`
	vecNone = `{"status":"success","data":{"resultType":"vector","result":[]}}`
	vecOne  = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"0.034"]}]}}`
	vecMany = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"i":"1"},"value":[1,"1"]},{"metric":{"i":"2"},"value":[1,"1"]},{"metric":{"i":"3"},"value":[1,"1"]},{"metric":{"i":"4"},"value":[1,"1"]},{"metric":{"i":"5"},"value":[1,"1"]}]}}`
	scalar1 = `{"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"1"]}}`
	scalar0 = `{"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"0"]}}`
	vecNaN  = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"NaN"]}]}}`
	matrix  = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a"},"values":[[1700000000,"1"],[1700000015,"1"]]}]}}`
	str     = `{"status":"success","data":{"resultType":"string","result":[1700000000.1,"x"]}}`
	badData = `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected \")\""}`
	execErr = `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`
)

func TestEval(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		pass     bool
		value    string // Value
		err      string // Error contains it
		badQuery bool
	}{
		{"vector all non-zero", 200, vecOK, true, `{pod="a"} 1, {pod="b"} 0.5`, "", false},
		{"one zero sample", 200, vecZero, false, `up{job="x", pod="b"} 0`, "", false},
		{"no labels", 200, vecOne, true, "0.034", "", false},
		{"many samples", 200, vecMany, true, `{i="1"} 1, {i="2"} 1, {i="3"} 1, … 2 more`, "", false},
		{"empty vector", 200, vecNone, false, "", "no data", false},
		{"scalar 1", 200, scalar1, true, "1", "", false},
		{"scalar 0", 200, scalar0, false, "0", "", false},
		{"NaN", 200, vecNaN, false, "NaN", "", false},
		{"matrix", 200, matrix, false, "", `not an instant vector or scalar (the result is a "matrix")`, false},
		{"string", 200, str, false, "", "not an instant vector or scalar", false},
		{"bad_data", 400, badData, false, "", "bad_data: invalid parameter", true},
		{"execution error", 422, execErr, false, "", "422, execution: query processing", false},
		{"status error with 200", 200, `{"status":"error","errorType":"bad_data","error":"x"}`, false, "", "bad_data: x", false},
		{"non-200", 503, "Service Unavailable", false, "", "answered 503 Service Unavailable: Service Unavailable", false},
		{"garbage", 200, "<html>hello</html>", false, "", "not the query API's JSON: <html>", false},
		{"no data field", 200, `{"status":"success"}`, false, "", "not the query API's JSON", false},
		{"value not a number", 200, `{"status":"success","data":{"resultType":"scalar","result":[1,"x"]}}`, false, "", `"x" is not a number`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, got := prom(t, tc.status, tc.body)
			r := g.Eval(context.Background(), Query{Name: "q", PromQL: `sum(up{job="x"}) > 0`})
			if r.Pass != tc.pass || r.BadQuery != tc.badQuery || r.Name != "q" || r.Query != `sum(up{job="x"}) > 0` {
				t.Errorf("result %+v, want pass %v, bad query %v", r, tc.pass, tc.badQuery)
			}
			if r.Value != tc.value {
				t.Errorf("value %q, want %q", r.Value, tc.value)
			}
			if tc.err != "" && !strings.Contains(r.Error, tc.err) || tc.err == "" && r.Error != "" {
				t.Errorf("error %q, want %q", r.Error, tc.err)
			}
			if len(*got) != 1 || (*got)[0] != `sum(up{job="x"}) > 0` {
				t.Errorf("queries sent %q", *got)
			}
		})
	}
}

func TestEvalFailsClosed(t *testing.T) {
	// Unreachable: a port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	g, _ := New("http://"+addr, []Query{{"a", "up"}})
	if fs := g.Failing(context.Background()); len(fs) != 1 || !strings.Contains(fs[0].Error, "cannot be read") {
		t.Errorf("unreachable: %+v", fs)
	}

	// A Prometheus that hangs past the timeout.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	g, _ = New(srv.URL, []Query{{"a", "up"}})
	g.Timeout = 50 * time.Millisecond
	start := time.Now()
	if fs := g.Failing(context.Background()); len(fs) != 1 || !strings.Contains(fs[0].Error, "deadline exceeded") {
		t.Errorf("timeout: %+v", fs)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the timeout took %s", time.Since(start))
	}
}

func TestParseQueries(t *testing.T) {
	qs, err := ParseQueries([]string{`budget=sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m])) < 0.01`, "a.b-c_1=up == 1"})
	if err != nil || len(qs) != 2 || qs[0].Name != "budget" || qs[0].PromQL != `sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m])) < 0.01` || qs[1].PromQL != "up == 1" {
		t.Errorf("%+v %v", qs, err)
	}
	for _, bad := range [][]string{{"up"}, {"=up"}, {"a b=up"}, {"a="}, {"a=  "}, {"a=up", "a=down"}} {
		if _, err := ParseQueries(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, u := range []string{"prometheus:9090", "ftp://p", "http://", "http://p:9090?x=1", "::"} {
		if _, err := New(u, nil); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
	for u, want := range map[string]string{"http://p:9090": "http://p:9090/api/v1/query", "https://p/prom/": "https://p/prom/api/v1/query", "http://p/api/v1/query": "http://p/api/v1/query"} {
		if g, err := New(u, nil); err != nil || g.Endpoint() != want {
			t.Errorf("%s: endpoint %v %v, want %s", u, g, err, want)
		}
	}
}
