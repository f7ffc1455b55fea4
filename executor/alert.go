package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// AnnotationPaused is on a node only while the run is paused before it
// ("alert: " or "query: " and what blocks), or after it for a query gate
// judging its effect ("query: NAME = VALUE"). It is a notice for whoever looks at the
// node, not progress: written without upgate.dev/holder or updated-at,
// removed when the pause ends (resumed or stopped), and by the node's
// cordon should a lost lock have left it behind.
const AnnotationPaused = "upgate.dev/paused"

// AlertGateFunc returns the names of the alerts that block the run now.
// An error (the alert source cannot be read) blocks as well: the gate
// fails closed.
type AlertGateFunc func(ctx context.Context) ([]string, error)

// ErrAlertsFiring: alerts kept firing (or the alert source stayed
// unreadable) for AlertWait; the run stopped before its next node or
// stage, nothing half-done, and the next run resumes. It is an ErrBlocked.
var ErrAlertsFiring = fmt.Errorf("%w: alerts firing", ErrBlocked)

// PauseRecord is one pause of the run, in the run record: why, where,
// when it began and ended, and how it ended.
type PauseRecord struct {
	// Reason is one of PauseReasons (alert, query).
	Reason string `json:"reason"`
	// Before is what the run was about to do: "stage <name>" or
	// "node <name>", with the hop; or, for a query gate held after a
	// node's validation, "after <stage> <node>" (the run goes on to
	// whatever comes next only once the queries pass), and RunEnd for
	// one once every hop ran.
	Before string `json:"before"`
	// Alerts are the alerts that blocked, each once, as last seen (the
	// alert source's error, when it could not be read, is Error).
	Alerts []string `json:"alerts,omitempty"`
	Error  string   `json:"error,omitempty"`
	// Queries are the query gates that did not pass (reason query), as
	// last seen: name, query, and the value or the error.
	Queries []QueryRecord `json:"queries,omitempty"`
	Start   time.Time     `json:"start"`
	End     time.Time     `json:"end"`
	// Result: resumed (the alerts resolved, the queries passed) or
	// stopped (AlertWait or QueryWait passed, or the run was stopped
	// while paused).
	Result string `json:"result"`
}

// Results of a pause.
const (
	PauseResumed = "resumed"
	PauseStopped = "stopped"
)

// alertGate holds the run while AlertGate blocks, looking again every
// PollInterval for up to AlertWait (see hold): a pause (PauseAlert). It
// returns nil once nothing blocks, an error wrapping ErrAlertsFiring past
// AlertWait, or one wrapping ErrStopped when the run is stopped. It is
// called before each stage and before each node, before anything of
// either is touched.
//
// node names the node the run is about to take, "" before a stage: while
// paused it carries AnnotationPaused and an Event says why.
func (r *Runner) alertGate(ctx context.Context, before, node, label string) error {
	if r.AlertGate == nil || r.DryRun {
		return nil
	}
	_, err := r.hold(ctx, holdSpec{
		reason: PauseAlert, flag: "--alert-wait", wait: r.AlertWait, err: ErrAlertsFiring,
		clear: "no alert blocks any more", until: "they resolve",
		check: func(ctx context.Context) holdLook {
			alerts, err := r.AlertGate(ctx)
			if err != nil {
				msg := oneLine(err.Error())
				return holdLook{
					what:   "the alert source cannot be read (it fails closed): " + msg,
					unread: true,
					record: func(p *PauseRecord) { p.Alerts, p.Error = nil, msg },
				}
			}
			if len(alerts) == 0 {
				return holdLook{}
			}
			alerts = slices.Clone(alerts)
			return holdLook{
				what:   "firing: " + strings.Join(alerts, ", "),
				record: func(p *PauseRecord) { p.Alerts, p.Error = alerts, "" },
			}
		},
	}, before, node, label, untouchedState)
	return err
}

// holdSpec is one gate that holds the run while something blocks.
type holdSpec struct {
	// reason is the pause's reason (PauseAlert, PauseQuery): the metric's
	// label, the output's "PAUSED (reason)", the annotation's prefix.
	reason string
	// flag names the wait's flag in messages (--alert-wait).
	flag string
	wait time.Duration
	// err is wrapped by the error past wait; an ErrBlocked.
	err error
	// clear says nothing blocks (RESUMED: clear); until says what the
	// next run waits for ("resumes once until").
	clear, until string
	// event prefixes what blocks in the node's Event ("query ").
	event string
	// check looks once.
	check func(ctx context.Context) holdLook
}

// holdLook is what one look of a holdSpec saw.
type holdLook struct {
	// what says what blocks, in one line; "" when nothing does.
	what string
	// unread: the look itself failed (its source could not be read),
	// which a stopped run reads as stopped, not as blocking.
	unread bool
	// record writes what blocks into the pause's record.
	record func(*PauseRecord)
}

// hold holds the run while spec's check says something blocks, looking
// again every PollInterval for up to spec.wait: a pause (spec.reason) in
// the metrics, a line on Out each time what blocks changes, and a
// PauseRecord. It returns nil once nothing blocks, an error wrapping
// spec.err past the wait, or one wrapping ErrStopped when the run is
// stopped; paused says whether it held the run at all.
//
// before is what the run waits before (or after: "after workers w-1"),
// for messages and the record. node, if not "", carries AnnotationPaused
// while paused and gets an Event. state says, in the error past the
// wait, what the run leaves (untouchedState before a stage or node).
func (r *Runner) hold(ctx context.Context, spec holdSpec, before, node, label, state string) (paused bool, err error) {
	deadline := r.Now().Add(spec.wait)
	var (
		resume func()
		rec    *PauseRecord
		last   string
	)
	for {
		if err := r.stopped(ctx); err != nil {
			r.endPause(rec, resume, PauseStopped)
			r.markPaused(ctx, node, rec, nil)
			return rec != nil, fmt.Errorf("%w (paused %s)", err, pausedWhere(before))
		}
		look := spec.check(ctx)
		if look.unread && r.stopped(ctx) != nil {
			// The look failed because the run was stopped under it.
			continue
		}
		if look.what == "" {
			if rec != nil {
				r.printf("[%s] RESUMED: %s (paused %s)\n", before, spec.clear, r.Now().Sub(rec.Start).Round(time.Second))
			}
			r.endPause(rec, resume, PauseResumed)
			r.markPaused(ctx, node, rec, nil)
			return rec != nil, nil
		}
		what := look.what
		if rec == nil {
			resume = r.pause(spec.reason)
			rec = &PauseRecord{Reason: spec.reason, Before: before, Start: r.Now().UTC()}
		}
		if look.record != nil {
			look.record(rec)
		}
		if !r.Now().Before(deadline) {
			r.endPause(rec, resume, PauseStopped)
			r.markPaused(ctx, node, rec, nil)
			r.printf("[%s] STOPPED (%s): %s\n", before, spec.reason, what)
			return true, fmt.Errorf("%w %s, still after %s %s: %s; %s; `upgate run --target %s` resumes once %s",
				spec.err, pausedWhere(before), spec.flag, spec.wait, what, state, label, spec.until)
		}
		if what != last {
			r.printf("[%s] PAUSED (%s): %s; looking again every %s for up to %s\n", before, spec.reason, what, r.PollInterval, spec.wait)
			if node != "" && last == "" {
				where := "before"
				if strings.HasPrefix(before, "after ") {
					where = "after"
				}
				r.event(ctx, node, true, eventReason("paused"), oneLine("paused "+where+" this node: "+spec.event+what))
			}
			r.markPaused(ctx, node, rec, str(truncate(spec.reason+": "+what, 1024)))
			last = what
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.PollInterval):
		}
	}
}

// untouchedState: a pause before a stage or node stopped with nothing of
// it touched.
const untouchedState = "nothing of it was touched"

// pausedWhere says where a pause is: "before workers w-1", or as is for
// "after workers w-1".
func pausedWhere(before string) string {
	if strings.HasPrefix(before, "after ") {
		return before
	}
	return "before " + before
}

// endPause ends a pause begun by hold, if any, and keeps its record.
func (r *Runner) endPause(rec *PauseRecord, resume func(), result string) {
	if rec == nil {
		return
	}
	resume()
	rec.End, rec.Result = r.Now().UTC(), result
	r.pausesMu.Lock()
	r.pauses = append(r.pauses, *rec)
	r.pausesMu.Unlock()
}

// takePauses returns the pauses kept so far and forgets them.
func (r *Runner) takePauses() []PauseRecord {
	r.pausesMu.Lock()
	defer r.pausesMu.Unlock()
	p := r.pauses
	r.pauses = nil
	return p
}

// markPaused sets (value) or removes (nil) AnnotationPaused on node, if
// the run paused before one. It only merges that one key: the node's
// progress annotations are not touched. Best effort: a pause notice that
// cannot be written says so on Out and does not fail the run. Nothing is
// written once the lock is lost; the removal outlives a cancelled run.
func (r *Runner) markPaused(ctx context.Context, node string, rec *PauseRecord, value *string) {
	if node == "" || rec == nil || r.lockLost() != nil {
		return
	}
	if value != nil && ctx.Err() != nil {
		return
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{AnnotationPaused: value}}})
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := r.Client.CoreV1().Nodes().Patch(wctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		r.printf("[%s] could not %s %s: %v\n", node, map[bool]string{true: "write", false: "remove"}[value != nil], AnnotationPaused, err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
