// Package querygate evaluates PromQL queries through Prometheus' HTTP API
// (POST /api/v1/query), for run's query gates (--gate-query NAME=PROMQL,
// --prometheus-url), as Argo Rollouts' Prometheus analysis and Flagger's
// metric checks do: while a query does not pass, the run does not touch
// the next node.
//
// A query passes only when its result is an instant vector whose samples
// are all non-zero (at least one), or a scalar that is non-zero; NaN is
// not a number and fails, ±Inf is non-zero and passes. So a query is
// written as a condition that holds while all is well: a comparison such
// as `error_ratio < 0.01` keeps its samples only where it holds (an empty
// vector, "no data", fails), and `... < bool 0.01` gives 1 or 0.
//
// It fails closed: Prometheus unreachable, a timeout, a status other than
// 200, a body that is not the API's JSON, status "error", a matrix or a
// string result, all fail the query with that reason, never pass it. A
// query Prometheus refuses as bad_data (it does not parse) is bad input:
// Result.BadQuery says so, and run refuses it before it changes anything.
package querygate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// QueryPath is the instant query endpoint, appended to the base URL.
const QueryPath = "/api/v1/query"

// DefaultTimeout bounds one evaluation: a Prometheus that hangs fails
// the query as one that refuses does.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what is read of an answer: a body without end must not
// exhaust the run's memory.
const maxBody = 16 << 20

// maxSamples is how many samples Result.Value shows before "… N more".
const maxSamples = 3

// Query is one query gate: a name for messages and the PromQL.
type Query struct {
	Name   string
	PromQL string
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ParseQuery reads NAME=PROMQL, split on the first '=': NAME is
// [A-Za-z0-9_.-]+, PROMQL is not empty.
func ParseQuery(s string) (Query, error) {
	name, promql, ok := strings.Cut(s, "=")
	switch {
	case !ok:
		return Query{}, fmt.Errorf("%q is not NAME=PROMQL", s)
	case !nameRE.MatchString(name):
		return Query{}, fmt.Errorf("%q: the name %q must be letters, digits, '_', '.' or '-' (NAME=PROMQL)", s, name)
	case strings.TrimSpace(promql) == "":
		return Query{}, fmt.Errorf("%q: the query of %s is empty (NAME=PROMQL)", s, name)
	}
	return Query{Name: name, PromQL: promql}, nil
}

// ParseQueries reads each NAME=PROMQL; names must be unique.
func ParseQueries(specs []string) ([]Query, error) {
	var qs []Query
	seen := map[string]bool{}
	for _, s := range specs {
		q, err := ParseQuery(s)
		if err != nil {
			return nil, err
		}
		if seen[q.Name] {
			return nil, fmt.Errorf("the name %q is given twice: each query needs its own", q.Name)
		}
		seen[q.Name] = true
		qs = append(qs, q)
	}
	return qs, nil
}

// Gate is a Prometheus server and the queries evaluated there.
type Gate struct {
	// URL is Prometheus' base URL (http://prometheus:9090, or with a
	// path prefix); queries go to URL + QueryPath.
	URL     string
	Queries []Query
	// Client does the requests; its Timeout, if any, applies too.
	Client *http.Client
	// Timeout bounds one evaluation. Zero means DefaultTimeout.
	Timeout time.Duration
}

// New checks the base URL and returns the gate. Errors are bad input: a
// URL that is not http(s) with a host.
func New(baseURL string, queries []Query) (*Gate, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL (Prometheus' base URL, as http://prometheus:9090)", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: give Prometheus' base URL, without a query or fragment", baseURL)
	}
	return &Gate{URL: baseURL, Queries: queries, Client: http.DefaultClient}, nil
}

// Endpoint is where the queries are POSTed.
func (g *Gate) Endpoint() string {
	return strings.TrimSuffix(strings.TrimSuffix(g.URL, "/"), QueryPath) + QueryPath
}

// Result is one query's evaluation.
type Result struct {
	Name  string
	Query string
	// Pass: the result was non-empty and every value non-zero.
	Pass bool
	// Value is what was seen, short: "0.034", `{pod="a"} 0`, a few
	// samples then "… N more"; of a query that fails, only the samples
	// that fail. "" with Error.
	Value string
	// Error says why the query could not be judged on its values (no
	// data, not an instant vector or scalar, Prometheus unreachable or
	// refusing it); it fails the query.
	Error string
	// BadQuery: Prometheus refused the query as bad_data (it does not
	// parse). Error holds Prometheus' message.
	BadQuery bool
}

// Failing says what fails, for messages: "NAME = VALUE" or "NAME: ERROR".
func (r Result) String() string {
	if r.Error != "" {
		return r.Name + ": " + r.Error
	}
	return r.Name + " = " + r.Value
}

// ErrBadQuery: Prometheus refused a query as bad_data (Result.BadQuery):
// bad input, which run refuses before it changes anything.
var ErrBadQuery = errors.New("Prometheus refuses the query")

// EvalAll evaluates every query, in order.
func (g *Gate) EvalAll(ctx context.Context) []Result {
	out := make([]Result, 0, len(g.Queries))
	for _, q := range g.Queries {
		out = append(out, g.Eval(ctx, q))
	}
	return out
}

// Failing evaluates every query and returns those that do not pass.
func (g *Gate) Failing(ctx context.Context) []Result {
	var out []Result
	for _, r := range g.EvalAll(ctx) {
		if !r.Pass {
			out = append(out, r)
		}
	}
	return out
}

// Eval evaluates one query.
func (g *Gate) Eval(ctx context.Context, q Query) Result {
	res := Result{Name: q.Name, Query: q.PromQL}
	body, status, err := g.post(ctx, q.PromQL)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	var r apiResponse
	jerr := json.Unmarshal(body, &r)
	if jerr == nil && r.Status == "error" {
		res.Error = fmt.Sprintf("Prometheus %s answered %d, %s: %s", g.URL, status, r.ErrorType, r.Error)
		res.BadQuery = r.ErrorType == "bad_data" && status == http.StatusBadRequest
		return res
	}
	if status != http.StatusOK {
		res.Error = fmt.Sprintf("Prometheus %s answered %d %s: %s", g.URL, status, http.StatusText(status), snippet(body))
		return res
	}
	if jerr != nil || r.Status != "success" || r.Data == nil {
		res.Error = fmt.Sprintf("Prometheus %s: not the query API's JSON: %s", g.URL, snippet(body))
		return res
	}
	samples, err := r.Data.samples()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if len(samples) == 0 {
		res.Error = "no data (the result is empty)"
		return res
	}
	res.Pass = true
	for _, s := range samples {
		if !s.pass() {
			res.Pass = false
		}
	}
	if !res.Pass {
		// Only the failing samples: what a reader looks for, and what
		// stays put while the query fails (the others' values move).
		samples = slices.DeleteFunc(samples, sample.pass)
	}
	var parts []string
	for i, s := range samples {
		if i == maxSamples {
			parts = append(parts, fmt.Sprintf("… %d more", len(samples)-maxSamples))
			break
		}
		parts = append(parts, s.String())
	}
	res.Value = strings.Join(parts, ", ")
	return res
}

func (g *Gate) post(ctx context.Context, promql string) ([]byte, int, error) {
	timeout := g.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	form := url.Values{"query": {promql}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.Endpoint(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, 0, fmt.Errorf("Prometheus %s: %w", g.URL, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	client := g.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("Prometheus %s cannot be read: %w", g.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("Prometheus %s: reading the answer: %w", g.URL, err)
	}
	if len(body) > maxBody {
		return nil, 0, fmt.Errorf("Prometheus %s: the answer is larger than %d bytes", g.URL, maxBody)
	}
	return body, resp.StatusCode, nil
}

type apiResponse struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Data      *apiData `json:"data"`
}

type apiData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type sample struct {
	labels map[string]string // nil for a scalar
	raw    string
	v      float64
}

func (s sample) pass() bool { return !math.IsNaN(s.v) && s.v != 0 }

func (s sample) String() string {
	if len(s.labels) == 0 {
		return s.raw
	}
	name := s.labels["__name__"]
	keys := make([]string, 0, len(s.labels))
	for k := range s.labels {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	ls := make([]string, len(keys))
	for i, k := range keys {
		ls[i] = k + "=" + strconv.Quote(s.labels[k])
	}
	return name + "{" + strings.Join(ls, ", ") + "} " + s.raw
}

// samples reads an instant vector or a scalar.
func (d *apiData) samples() ([]sample, error) {
	switch d.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  json.RawMessage   `json:"value"`
		}
		if err := json.Unmarshal(d.Result, &vec); err != nil || vec == nil && string(d.Result) != "[]" {
			return nil, fmt.Errorf("not the query API's JSON: a vector that is not a list of samples")
		}
		out := make([]sample, 0, len(vec))
		for _, e := range vec {
			s, err := point(e.Value)
			if err != nil {
				return nil, err
			}
			s.labels = e.Metric
			out = append(out, s)
		}
		return out, nil
	case "scalar":
		s, err := point(d.Result)
		if err != nil {
			return nil, err
		}
		return []sample{s}, nil
	default:
		return nil, fmt.Errorf("not an instant vector or scalar (the result is a %q)", d.ResultType)
	}
}

// point reads [ <unix time>, "<value>" ].
func point(raw json.RawMessage) (sample, error) {
	var p []json.RawMessage
	if err := json.Unmarshal(raw, &p); err != nil || len(p) != 2 {
		return sample{}, fmt.Errorf("not the query API's JSON: a value that is not [time, \"value\"]: %s", snippet(raw))
	}
	var s string
	if err := json.Unmarshal(p[1], &s); err != nil {
		return sample{}, fmt.Errorf("not the query API's JSON: a value that is not a string: %s", snippet(p[1]))
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return sample{}, fmt.Errorf("not the query API's JSON: %q is not a number", s)
	}
	return sample{raw: s, v: v}, nil
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
