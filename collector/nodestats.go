package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/upgate-dev/upgate/inventory"
)

const (
	// defaultNodeStatsConcurrency bounds how many stats summaries are
	// read at once: each is a request the API server proxies to a kubelet.
	defaultNodeStatsConcurrency = 16
	// defaultNodeStatsTimeout bounds one node's summary: a kubelet that
	// does not answer must not hold the run's readiness for long.
	defaultNodeStatsTimeout = 5 * time.Second
	// maxStatsError keeps a reason readable in a finding's message.
	maxStatsError = 200
)

// errNoProxyClient: the clientset has no REST client to reach the node
// proxy with (client-go's fake clientset).
var errNoProxyClient = errors.New("the client has no REST client for the node proxy")

// statsSummary is the part of the kubelet's Summary API
// (k8s.io/kubelet/pkg/apis/stats/v1alpha1) that is read: the node's root
// filesystem, node.fs.
type statsSummary struct {
	Node struct {
		Fs *struct {
			AvailableBytes *uint64 `json:"availableBytes"`
			CapacityBytes  *uint64 `json:"capacityBytes"`
		} `json:"fs"`
	} `json:"node"`
}

// parseStatsSummary reads node.fs from a stats summary body into st; an
// error when the body is not JSON or gives no available bytes.
func parseStatsSummary(body []byte, st *inventory.NodeStat) error {
	var s statsSummary
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("not a stats summary: %v", err)
	}
	if s.Node.Fs == nil || s.Node.Fs.AvailableBytes == nil {
		return errors.New("the stats summary gives no node.fs.availableBytes")
	}
	st.AvailableBytes, st.CapacityBytes = s.Node.Fs.AvailableBytes, s.Node.Fs.CapacityBytes
	return nil
}

// NodeStats reads each node's kubelet stats summary through the API
// server's node proxy (GET /api/v1/nodes/NAME/proxy/stats/summary, which
// needs get on nodes/proxy), Options.NodeStatsConcurrency at a time, each
// bounded by Options.NodeStatsTimeout. A node whose summary cannot be read
// (forbidden, not served, timed out, not JSON) gets the reason in Error
// instead of bytes: the policies then judge it by its DiskPressure
// condition. Only a cancelled ctx is an error. The result is in the order
// of names.
func (c *Collector) NodeStats(ctx context.Context, names []string) ([]inventory.NodeStat, error) {
	if c.optErr != nil {
		return nil, c.optErr
	}
	out := make([]inventory.NodeStat, len(names))
	sem := make(chan struct{}, c.opts.NodeStatsConcurrency)
	var wg sync.WaitGroup
	for i, name := range names {
		out[i].Node = name
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil, newError("get node stats summaries", ctx.Err(), "")
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.nodeStat(ctx, &out[i]); err != nil {
				out[i].Error = statsReason(err, c.opts.NodeStatsTimeout)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, newError("get node stats summaries", err, "")
	}
	return out, nil
}

// nodeStat reads one node's summary into st.
func (c *Collector) nodeStat(ctx context.Context, st *inventory.NodeStat) error {
	rc := c.cs.CoreV1().RESTClient()
	if r, ok := rc.(*rest.RESTClient); rc == nil || (ok && r == nil) {
		return errNoProxyClient // client-go's fake
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.NodeStatsTimeout)
	defer cancel()
	res := rc.Get().Resource("nodes").Name(st.Node).SubResource("proxy").Suffix("stats/summary").
		SetHeader("Accept", "application/json").Do(ctx)
	body, err := res.Raw()
	if err != nil {
		// Error decodes the API server's Status (Raw's error does not).
		return res.Error()
	}
	return parseStatsSummary(body, st)
}

// proxyMessage is the API server's (or the kubelet's) own words for a
// failed request, with its HTTP status: an answer client-go cannot decode
// as a Status is kept as a cause behind "unknown reason".
func proxyMessage(err error) string {
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		return err.Error()
	}
	st := se.Status()
	if st.Details != nil {
		for _, c := range st.Details.Causes {
			if c.Type == metav1.CauseTypeUnexpectedServerResponse && c.Message != "" {
				return fmt.Sprintf("HTTP %d: %s", st.Code, c.Message)
			}
		}
	}
	return fmt.Sprintf("HTTP %d: %s", st.Code, st.Message)
}

// statsReason says in a few words why a summary was not read.
func statsReason(err error, timeout time.Duration) string {
	var why string
	switch {
	case apierrors.IsForbidden(err):
		why = "forbidden: reading it needs get on nodes/proxy"
	case apierrors.IsNotFound(err):
		why = "not found: the kubelet (or what stands in for it) does not serve /stats/summary"
	case errors.Is(err, context.DeadlineExceeded), apierrors.IsTimeout(err):
		why = fmt.Sprintf("no answer within %s", timeout)
	default:
		why = strings.Join(strings.Fields(proxyMessage(err)), " ")
	}
	if len(why) > maxStatsError {
		why = why[:maxStatsError] + "..."
	}
	return why
}

// statsWarning says, once, that summaries could not be read: on how many
// nodes, and the first reason.
func statsWarning(stats []inventory.NodeStat) string {
	n, first := 0, ""
	for _, s := range stats {
		if !s.Read() {
			if n == 0 {
				first = s.Node + ": " + s.Error
			}
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("kubelet stats summary not read on %d of %d nodes (%s); root filesystem free space is judged by the DiskPressure condition there", n, len(stats), first)
}
