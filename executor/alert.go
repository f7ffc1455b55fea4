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

// AnnotationPaused is on a node only while the run is paused before it:
// "alert: " and what blocks. It is a notice for whoever looks at the
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
	// Reason is one of PauseReasons (alert).
	Reason string `json:"reason"`
	// Before is what the run was about to do: "stage <name>" or
	// "node <name>", with the hop.
	Before string `json:"before"`
	// Alerts are the alerts that blocked, each once, as last seen (the
	// alert source's error, when it could not be read, is Error).
	Alerts []string  `json:"alerts,omitempty"`
	Error  string    `json:"error,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Result: resumed (the alerts resolved) or stopped (AlertWait passed,
	// or the run was stopped while paused).
	Result string `json:"result"`
}

// Results of a pause.
const (
	PauseResumed = "resumed"
	PauseStopped = "stopped"
)

// alertGate holds the run while AlertGate blocks, looking again every
// PollInterval for up to AlertWait: a pause (PauseAlert) in the metrics,
// a line on Out each time what blocks changes, and a PauseRecord. It
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
	deadline := r.Now().Add(r.AlertWait)
	var (
		resume func()
		rec    *PauseRecord
		last   string
	)
	for {
		if err := r.stopped(ctx); err != nil {
			r.endPause(rec, resume, PauseStopped)
			r.markPaused(ctx, node, rec, nil)
			return fmt.Errorf("%w (paused before %s)", err, before)
		}
		alerts, err := r.AlertGate(ctx)
		if err != nil && r.stopped(ctx) != nil {
			// The read failed because the run was stopped under it.
			continue
		}
		if err == nil && len(alerts) == 0 {
			if rec != nil {
				r.printf("[%s] RESUMED: no alert blocks any more (paused %s)\n", before, r.Now().Sub(rec.Start).Round(time.Second))
			}
			r.endPause(rec, resume, PauseResumed)
			r.markPaused(ctx, node, rec, nil)
			return nil
		}
		what := "firing: " + strings.Join(alerts, ", ")
		if err != nil {
			what = "the alert source cannot be read (it fails closed): " + oneLine(err.Error())
		}
		if rec == nil {
			resume = r.pause(PauseAlert)
			rec = &PauseRecord{Reason: PauseAlert, Before: before, Start: r.Now().UTC()}
		}
		rec.Alerts, rec.Error = slices.Clone(alerts), ""
		if err != nil {
			rec.Alerts, rec.Error = nil, oneLine(err.Error())
		}
		if !r.Now().Before(deadline) {
			r.endPause(rec, resume, PauseStopped)
			r.markPaused(ctx, node, rec, nil)
			r.printf("[%s] STOPPED (alert): %s\n", before, what)
			return fmt.Errorf("%w before %s, still after --alert-wait %s: %s; nothing of it was touched; `upgate run --target %s` resumes once they resolve",
				ErrAlertsFiring, before, r.AlertWait, what, label)
		}
		if what != last {
			r.printf("[%s] PAUSED (alert): %s; looking again every %s for up to %s\n", before, what, r.PollInterval, r.AlertWait)
			if node != "" && last == "" {
				r.event(ctx, node, true, eventReason("paused"), oneLine("paused before this node: "+what))
			}
			r.markPaused(ctx, node, rec, str(truncate(PauseAlert+": "+what, 1024)))
			last = what
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.PollInterval):
		}
	}
}

// endPause ends a pause begun by alertGate, if any, and keeps its record.
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
