package executor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/upgate-dev/upgate/finding"
)

// StepRecord is one step the run took on a node, with when it started and
// ended and how it went.
type StepRecord struct {
	Name    string    `json:"name"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Result  string    `json:"result"`
	Message string    `json:"message,omitempty"`
}

// nodeLog collects a node's steps and the findings its gate (and
// validation) returned, while the run takes it.
type nodeLog struct {
	mu       sync.Mutex
	steps    []StepRecord
	findings []finding.Finding
}

func (l *nodeLog) addFindings(fs []finding.Finding) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.findings = append(l.findings, fs...)
}

// stepTimer is a step begun on a node; end records it, in the node's log
// and as an Event on the node.
type stepTimer struct {
	r     *Runner
	s     step
	name  string
	start time.Time
}

func (r *Runner) begin(s step, name string) *stepTimer {
	return &stepTimer{r: r, s: s, name: name, start: r.Now().UTC()}
}

// end records the step's result; msg says what it did or why it did not.
func (t *stepTimer) end(ctx context.Context, result, msg string) {
	rec := StepRecord{Name: t.name, Start: t.start, End: t.r.Now().UTC(), Result: result, Message: oneLine(msg)}
	if l := t.s.log; l != nil {
		l.mu.Lock()
		l.steps = append(l.steps, rec)
		l.mu.Unlock()
	}
	t.r.event(ctx, t.s.planned.Name, result != StepOK, eventReason(t.name), rec.Message)
	if ro := t.r.rollout; ro != nil {
		ro.obs.Step(t.name, result, rec.End.Sub(rec.Start))
		if result == StepOK {
			ro.obs.Progress(rec.End)
		}
	}
}

// Backup is an etcd backup a run took: in which hop, when, by whom, and
// where it is kept.
type Backup struct {
	Hop        string    `json:"hop"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Location is where the backup is kept: the absolute path of upgate's
	// own snapshot, or where the driver says it keeps its backup; empty
	// when the driver did not say (Note then says so).
	Location string `json:"location"`
	Note     string `json:"note,omitempty"`
	// TakenBy is upgate (its own snapshot, --etcd-endpoints) or driver.
	TakenBy string `json:"takenBy,omitempty"`
	// SizeBytes, Endpoint, EtcdVersion, Revision and SHA256 describe
	// upgate's own snapshot: the file's size, the etcd member it came
	// from, that member's version, the store's revision, the file's hash.
	SizeBytes   int64  `json:"sizeBytes,omitempty"`
	Endpoint    string `json:"endpoint,omitempty"`
	EtcdVersion string `json:"etcdVersion,omitempty"`
	Revision    int64  `json:"revision,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
}

// BackupReporter is a Driver that says what its last EtcdBackup took:
// taken is false when it took none (the kwok driver); location is empty
// when it does not know where the backup is kept.
type BackupReporter interface {
	LastBackup() (location string, taken bool)
}

// Outcomes of a node in the run record.
const (
	OutcomeDone        = "done"
	OutcomeSkipped     = "skipped"
	OutcomeFailed      = "failed"
	OutcomeQuarantined = "quarantined"
	OutcomeNotStarted  = "not-started"
)

// Verdicts of a run record.
const (
	RunPassed     = "passed"     // a dry run whose gate is open
	RunBlocked    = "blocked"    // the gate closed: before any node or at one
	RunDone       = "done"       // every node of every hop is done (or was already)
	RunIncomplete = "incomplete" // every hop ran, but nodes were skipped or quarantined
	RunFailed     = "failed"     // a node, the driver or the cluster failed
	RunStopped    = "stopped"    // interrupted, the lock lost, or not confirmed
)

// NodeRecord is what a run did to a node in one hop.
type NodeRecord struct {
	Name     string            `json:"name"`
	Hop      string            `json:"hop"`
	Stage    StageName         `json:"stage"`
	Outcome  string            `json:"outcome"`
	Reason   string            `json:"reason,omitempty"`
	Steps    []StepRecord      `json:"steps"`
	Findings []finding.Finding `json:"findings"`
}

// RunRecord is the contract's Run record: the plan a run executed, what it
// did to each node and in the stages about no node, the etcd backups it
// took, and its verdict.
type RunRecord struct {
	APIVersion     string `json:"apiVersion"`
	Kind           string `json:"kind"`
	CurrentVersion string `json:"currentVersion"`
	TargetVersion  string `json:"targetVersion"`
	DryRun         bool   `json:"dryRun"`
	// Verdict: passed (dry run), blocked, done, incomplete, failed or stopped.
	Verdict        string    `json:"verdict"`
	Reason         string    `json:"reason,omitempty"`
	OnDrainTimeout string    `json:"onDrainTimeout,omitempty"`
	StartedAt      time.Time `json:"startedAt"`
	FinishedAt     time.Time `json:"finishedAt"`
	UpgateVersion  string    `json:"upgateVersion,omitempty"`
	// Plan is the plan the run executed (null when it stopped before one
	// was made).
	Plan  *Plan        `json:"plan"`
	Nodes []NodeRecord `json:"nodes"`
	// Stages are the stages of each hop about no node, in the order they
	// ran: the cloud-controller-manager stage.
	Stages      []StageRecord `json:"stages"`
	EtcdBackups []Backup      `json:"etcdBackups"`
	// EtcdBackupNote says why the list is empty: no backup was taken
	// (or, in a dry run, what the run would take).
	EtcdBackupNote string `json:"etcdBackupNote,omitempty"`
	// Pauses are the run's pauses for alerts (--alert-url) and query
	// gates (--gate-query), in the order they ended: before (or after)
	// which stage or node, the alerts or the failing queries, start, end
	// and whether the run resumed or stopped.
	Pauses []PauseRecord `json:"pauses"`
}

// RecordInput is what NewRunRecord builds a record from.
type RecordInput struct {
	Plan   *Plan
	Result *Result
	// Err is what the run returned (nil: it finished).
	Err error
	// Verdict overrides the verdict worked out from Err (the CLI knows
	// a gate closed before the run, or a run not confirmed).
	Verdict, Reason       string
	DryRun                bool
	OnDrainTimeout        string
	StartedAt, FinishedAt time.Time
	UpgateVersion         string
}

// NewRunRecord builds the record: one entry per node and hop of the plan,
// in plan order (hop, stage, node), with what the run did to it; nodes the
// run did not reach are not-started.
func NewRunRecord(in RecordInput) *RunRecord {
	rec := &RunRecord{
		APIVersion: "upgate.dev/v1alpha1", Kind: "Run",
		DryRun: in.DryRun, OnDrainTimeout: in.OnDrainTimeout,
		StartedAt: in.StartedAt.UTC(), FinishedAt: in.FinishedAt.UTC(),
		UpgateVersion: in.UpgateVersion,
		Nodes:         []NodeRecord{}, Stages: []StageRecord{}, EtcdBackups: []Backup{},
		Pauses: []PauseRecord{},
	}
	rec.Verdict, rec.Reason = verdictOf(in)
	res := in.Result
	if res == nil {
		res = &Result{}
	}
	rec.Stages = append(rec.Stages, res.Stages...)
	rec.EtcdBackups = append(rec.EtcdBackups, res.Backups...)
	rec.EtcdBackupNote = res.BackupNote
	rec.Pauses = append(rec.Pauses, res.Pauses...)
	if in.Plan == nil {
		return rec
	}
	p := *in.Plan
	if p.Hops == nil {
		p.Hops = []Hop{}
	}
	if p.Findings == nil {
		p.Findings = []finding.Finding{}
	}
	rec.Plan = &p
	rec.CurrentVersion, rec.TargetVersion = p.CurrentVersion, p.TargetVersion
	type key struct{ hop, node string }
	outcomes := map[key]Outcome{}
	for _, o := range res.Outcomes {
		outcomes[key{o.Hop, o.Node}] = o
	}
	hops := p.Hops
	if len(hops) == 0 && len(p.Stages) > 0 {
		hops = []Hop{{To: p.TargetVersion, Stages: p.Stages}}
	}
	for _, h := range hops {
		label := h.To
		if t, err := ParseTarget(h.To); err == nil {
			label = t.Label
		}
		seen := map[string]bool{}
		for _, st := range h.Stages {
			for _, n := range st.Nodes {
				if seen[n.Name] {
					continue
				}
				seen[n.Name] = true
				nr := NodeRecord{Name: n.Name, Hop: label, Stage: st.Name, Steps: []StepRecord{}, Findings: []finding.Finding{}}
				o, ok := outcomes[key{label, n.Name}]
				switch {
				case ok:
					nr.Outcome, nr.Reason = recordOutcome(o)
					nr.Steps = append(nr.Steps, o.Steps...)
					nr.Findings = append(nr.Findings, o.Findings...)
				case in.DryRun:
					nr.Outcome, nr.Reason = OutcomeNotStarted, "dry run: nothing was changed"
					nr.Findings = append(nr.Findings, n.Blockers...)
				default:
					nr.Outcome, nr.Reason = OutcomeNotStarted, "the run ended before it reached this node"
				}
				finding.Sort(nr.Findings)
				rec.Nodes = append(rec.Nodes, nr)
			}
		}
	}
	return rec
}

// recordOutcome maps a run's outcome onto the record's words: a node whose
// gate closed was not started, and its reason says so.
func recordOutcome(o Outcome) (string, string) {
	switch o.Result {
	case ResultDone:
		return OutcomeDone, o.Reason
	case ResultSkipped:
		return OutcomeSkipped, o.Reason
	case ResultQuarantined:
		return OutcomeQuarantined, o.Reason
	case ResultBlocked:
		return OutcomeNotStarted, "the gate closed: " + o.Reason
	case ResultNotStarted:
		return OutcomeNotStarted, o.Reason
	default:
		return OutcomeFailed, o.Reason
	}
}

func verdictOf(in RecordInput) (string, string) {
	if in.Verdict != "" {
		return in.Verdict, in.Reason
	}
	reason := in.Reason
	if reason == "" && in.Err != nil {
		reason = oneLine(in.Err.Error())
	}
	switch {
	case in.Err == nil && in.DryRun:
		return RunPassed, reason
	case in.Err == nil:
		return RunDone, reason
	case errors.Is(in.Err, ErrBlocked):
		return RunBlocked, reason
	case errors.Is(in.Err, ErrStopped):
		return RunStopped, reason
	case errors.Is(in.Err, ErrIncomplete):
		return RunIncomplete, reason
	default:
		return RunFailed, reason
	}
}

// WriteJSON writes the record indented. Nodes are in plan order, steps and
// backups in the order they happened, findings sorted: the same run gives
// the same bytes but for its times.
func (rec *RunRecord) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rec)
}
