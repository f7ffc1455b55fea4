// Package alertgate reads which alerts fire from Prometheus
// (GET /api/v1/alerts) or Alertmanager (GET /api/v2/alerts), for run's
// alert gate (--alert-url, --alert-filter): while an alert not filtered out
// fires, the run does not touch the next node or start the next stage.
//
// It fails closed: a source that cannot be read (unreachable, a status other
// than 200, a body that is not the API's JSON) is an error, and the run
// treats an error as blocking, never as "nothing fires".
package alertgate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// API paths the URL must end with. The format is chosen by the path, not
// guessed from the body: a URL that names neither is bad input, found
// before the run changes anything.
const (
	PrometheusPath   = "/api/v1/alerts"
	AlertmanagerPath = "/api/v2/alerts"
)

// Kinds of source.
const (
	Prometheus   = "prometheus"
	Alertmanager = "alertmanager"
)

// DefaultTimeout bounds one read of the source: a source that hangs is
// as unreadable as one that refuses, and blocks the same way.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what is read of a response: an alert list is small, and
// a body without end must not exhaust the run's memory.
const maxBody = 32 << 20

// NoName stands for an alert without an alertname label: it still blocks
// (fail closed), and the run names it so.
const NoName = "(no alertname)"

// Source is one alert API.
type Source struct {
	// URL is the API endpoint, ending in PrometheusPath or
	// AlertmanagerPath (a query, such as Alertmanager's filter=, is kept).
	URL string
	// Kind is Prometheus or Alertmanager, from the URL's path.
	Kind string
	// Filter: alerts whose name it matches do not block (kured's
	// --alert-filter-regexp). Nil: every firing alert blocks.
	Filter *regexp.Regexp
	// Client does the requests; its Timeout, if any, applies too.
	Client *http.Client
	// Timeout bounds one read. Zero means DefaultTimeout.
	Timeout time.Duration
}

// New checks the URL and the filter and returns the source. Errors are
// bad input: a URL that is not http(s) or names neither API, a filter
// that does not compile.
func New(rawURL, filter string) (*Source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", rawURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL", rawURL)
	}
	s := &Source{URL: rawURL, Client: http.DefaultClient}
	switch p := strings.TrimSuffix(u.Path, "/"); {
	case strings.HasSuffix(p, PrometheusPath):
		s.Kind = Prometheus
	case strings.HasSuffix(p, AlertmanagerPath):
		s.Kind = Alertmanager
	default:
		return nil, fmt.Errorf("%q names neither Prometheus' %s nor Alertmanager's %s: give the full API path", rawURL, PrometheusPath, AlertmanagerPath)
	}
	if filter != "" {
		re, err := regexp.Compile(filter)
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", filter, err)
		}
		s.Filter = re
	}
	return s, nil
}

// String names the source for messages.
func (s *Source) String() string { return s.Kind + " " + s.URL }

// Blocking returns the names of the alerts that block now, sorted and
// each once: Prometheus alerts in state firing (pending ones have not
// fired yet), Alertmanager alerts in state active or unprocessed
// (suppressed ones are silenced or inhibited by someone who decided
// they do not matter; unprocessed ones have not been checked against
// the silences yet, so they count as firing), less those Filter matches.
// An error means the source could not be read, and must block.
func (s *Source) Blocking(ctx context.Context) ([]string, error) {
	names, err := s.firing(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if n == "" {
			n = NoName
		}
		if seen[n] || (s.Filter != nil && n != NoName && s.Filter.MatchString(n)) {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func (s *Source) firing(ctx context.Context) ([]string, error) {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("alert source %s: %w", s.URL, err)
	}
	req.Header.Set("Accept", "application/json")
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("alert source %s cannot be read: %w", s.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("alert source %s: reading the answer: %w", s.URL, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("alert source %s: the answer is larger than %d bytes", s.URL, maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alert source %s answered %s: %s", s.URL, resp.Status, snippet(body))
	}
	var names []string
	switch s.Kind {
	case Prometheus:
		names, err = prometheusFiring(body)
	default:
		names, err = alertmanagerFiring(body)
	}
	if err != nil {
		return nil, fmt.Errorf("alert source %s: %w", s.URL, err)
	}
	return names, nil
}

// prometheusFiring reads GET /api/v1/alerts.
func prometheusFiring(body []byte) ([]string, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   *struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("not Prometheus' alerts JSON: %w", err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("Prometheus says status %q: %s", r.Status, r.Error)
	}
	if r.Data == nil || r.Data.Alerts == nil {
		// An answer without the list says nothing about what fires.
		return nil, errors.New("not Prometheus' alerts JSON: no data.alerts")
	}
	var names []string
	for _, a := range r.Data.Alerts {
		if a.State == "firing" {
			names = append(names, a.Labels["alertname"])
		}
	}
	return names, nil
}

// alertmanagerFiring reads GET /api/v2/alerts.
func alertmanagerFiring(body []byte) ([]string, error) {
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status *struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.Unmarshal(body, &alerts); err != nil {
		return nil, fmt.Errorf("not Alertmanager's alerts JSON: %w", err)
	}
	if alerts == nil {
		return nil, errors.New("not Alertmanager's alerts JSON: null")
	}
	var names []string
	for _, a := range alerts {
		// Only suppressed (silenced or inhibited) lets the run go on; an
		// alert without a status, or in a state this version does not
		// know, blocks.
		if a.Status != nil && a.Status.State == "suppressed" {
			continue
		}
		names = append(names, a.Labels["alertname"])
	}
	return names, nil
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
