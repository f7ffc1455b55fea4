package collector

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/upgate-dev/upgate/inventory"
)

// deprecatedMetric is the API server's gauge of requests made to
// deprecated APIs since it started, one series per group/version/resource.
const deprecatedMetric = "apiserver_requested_deprecated_apis"

// errNoRESTClient: the clientset cannot make non-resource requests
// (client-go's fake clientset has no REST client).
var errNoRESTClient = errors.New("the client has no REST client for non-resource paths")

// DeprecatedRequests reads the API server's apiserver_requested_deprecated_apis
// metric from /metrics: one entry per series, sorted. It sees requests made
// to deprecated APIs by clients whose objects may no longer show it (a CI
// job applying v1beta1 manifests), which the stored objects cannot tell.
// Failures wrap ErrCollect; Collect treats Forbidden and NotFound as
// warnings, since RBAC for the non-resource URL /metrics is optional.
func (c *Collector) DeprecatedRequests(ctx context.Context) ([]inventory.DeprecatedRequest, error) {
	if c.optErr != nil {
		return nil, c.optErr
	}
	rc := restClient(c.cs)
	if rc == nil {
		return nil, newError("get /metrics", errNoRESTClient, "")
	}
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	// Ask for the text format: the clientset's protobuf Accept header would
	// otherwise be what the metrics handler negotiates against.
	body, err := rc.Get().AbsPath("/metrics").SetHeader("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain))).Stream(ctx)
	if err != nil {
		return nil, newError("get /metrics", err, "get")
	}
	defer func() { _ = body.Close() }() // read-only stream: nothing to lose on close
	reqs, err := parseDeprecated(body)
	if err != nil {
		return nil, newError("read /metrics", err, "")
	}
	return reqs, nil
}

// deprecatedRequests is DeprecatedRequests for Collect: an unavailable
// /metrics becomes a warning instead of an error.
func (c *Collector) deprecatedRequests(ctx context.Context) ([]inventory.DeprecatedRequest, string, error) {
	reqs, err := c.DeprecatedRequests(ctx)
	switch {
	case err == nil:
		return reqs, "", nil
	case apierrors.IsForbidden(err), apierrors.IsNotFound(err), errors.Is(err, errNoRESTClient):
		return nil, fmt.Sprintf("deprecated API requests not read, only stored objects show API usage: %v", err), nil
	}
	return nil, "", err
}

// parseDeprecated extracts the deprecated-API series from a /metrics body.
// Only that family's lines are handed to the parser: the rest of the body
// is several megabytes of histograms we would parse and throw away, and a
// syntax the parser does not know in an unrelated family must not fail us.
func parseDeprecated(r io.Reader) ([]inventory.DeprecatedRequest, error) {
	var kept strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if line := sc.Text(); isDeprecatedLine(line) {
			kept.WriteString(line)
			kept.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(kept.String()))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", deprecatedMetric, err)
	}
	var reqs []inventory.DeprecatedRequest
	for _, m := range families[deprecatedMetric].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		reqs = append(reqs, inventory.DeprecatedRequest{
			Group: l["group"], Version: l["version"], Resource: l["resource"],
			Subresource: l["subresource"], RemovedRelease: l["removed_release"],
		})
	}
	slices.SortFunc(reqs, func(a, b inventory.DeprecatedRequest) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Subresource, b.Subresource),
			cmp.Compare(a.RemovedRelease, b.RemovedRelease))
	})
	return reqs, nil
}

// isDeprecatedLine keeps the metric's samples and its HELP and TYPE lines,
// matching the whole name so a longer name sharing the prefix is not kept.
func isDeprecatedLine(line string) bool {
	if rest, ok := strings.CutPrefix(line, "# "); ok {
		f := strings.Fields(rest)
		return len(f) >= 2 && (f[0] == "HELP" || f[0] == "TYPE") && f[1] == deprecatedMetric
	}
	rest, ok := strings.CutPrefix(line, deprecatedMetric)
	return ok && (strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, " "))
}
