package executor

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// QueryRecord is one query gate (--gate-query NAME=PROMQL) that did not
// pass: its name, its PromQL, and the value(s) seen or why it could not
// be judged (Error: no data, not an instant vector or scalar, Prometheus
// unreachable ...).
type QueryRecord struct {
	Name  string `json:"name"`
	Query string `json:"query"`
	Value string `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

// String is "NAME = VALUE", or "NAME: ERROR".
func (q QueryRecord) String() string {
	if q.Error != "" {
		return q.Name + ": " + q.Error
	}
	return q.Name + " = " + q.Value
}

// QueryGateFunc evaluates the query gates and returns those that do not
// pass now; none: every query passes. A query that cannot be evaluated
// is one that does not pass (Error set): the gate fails closed.
type QueryGateFunc func(ctx context.Context) []QueryRecord

// ErrQueryGate: query gates kept failing for QueryWait; the run stopped
// before its next node, nothing half-done, and the next run resumes. It
// is an ErrBlocked.
var ErrQueryGate = fmt.Errorf("%w: query gate failing", ErrBlocked)

// queryGate holds the run while QueryGate names failing queries, looking
// again every PollInterval for up to QueryWait (see hold): a pause
// (PauseQuery). It runs before each node (after the alert gate, before
// the node's gate and cordon), with after false, and after each node's
// validation, with after true, so the last node's effect is judged too;
// and once more at the run's end (queryRunEnd).
//
// node carries AnnotationPaused while paused ("query: NAME = VALUE") and
// gets an UpgatePaused Event: before a node, the node about to be
// touched; after a node's validation, that validated node (the one whose
// effect is judged: which node comes next is not known there, and with
// --max-unavailable above 1 there may be none for this worker).
func (r *Runner) queryGate(ctx context.Context, stage StageName, node, label string, after bool) (paused bool, err error) {
	before, state := fmt.Sprintf("%s %s", stage, node), untouchedState
	if after {
		before, state = "after "+before, "the node is done, and the run stops there"
	}
	return r.holdQueries(ctx, before, node, label, state)
}

// queryRunEnd is the last hold of the query gates: once every hop ran,
// before the run reports it finished (before RunEnd). It judges the
// add-ons' effect, and the last node's again when a run stopped after
// that node's validation is run again with nothing left to upgrade.
func (r *Runner) queryRunEnd(ctx context.Context, label string) error {
	_, err := r.holdQueries(ctx, RunEnd, "", label, "every node is done, but the run is not finished")
	return err
}

// RunEnd is PauseRecord.Before of a query pause once every hop ran.
const RunEnd = "the end of the run"

func (r *Runner) holdQueries(ctx context.Context, before, node, label, state string) (paused bool, err error) {
	if r.QueryGate == nil || r.DryRun {
		return false, nil
	}
	return r.hold(ctx, holdSpec{
		reason: PauseQuery, flag: "--gate-query-wait", wait: r.QueryWait, err: ErrQueryGate,
		clear: "every query passes", until: "they pass", event: "query ",
		check: func(ctx context.Context) holdLook {
			failing := slices.Clone(r.QueryGate(ctx))
			if len(failing) == 0 {
				return holdLook{}
			}
			parts := make([]string, len(failing))
			unread := false
			for i, q := range failing {
				parts[i] = oneLine(q.String())
				unread = unread || q.Error != ""
			}
			return holdLook{
				what:   strings.Join(parts, "; "),
				unread: unread,
				record: func(p *PauseRecord) { p.Queries = failing },
			}
		},
	}, before, node, label, state)
}

// gateBeforeNode holds the run before a node while an alert fires or a
// query fails. The two are one gate: when a pause on the queries ends,
// the alerts are looked at again (then the queries), so an alert that
// began firing while a query held the run still holds it, and the node
// is taken only after a look at which both passed.
func (r *Runner) gateBeforeNode(ctx context.Context, stage StageName, node, label string) error {
	for {
		if err := r.alertGate(ctx, fmt.Sprintf("%s %s", stage, node), node, label); err != nil {
			return err
		}
		paused, err := r.queryGate(ctx, stage, node, label, false)
		if err != nil || !paused {
			return err
		}
	}
}
