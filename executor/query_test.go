package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

var budgetFailing = []QueryRecord{{Name: "budget", Query: "error_ratio < 0.01", Value: "0"}}

// scriptedQueries answers the workers' query gate look by look from
// script (the last answer repeats), and calls probe at each look with
// its number (from 1); other stages' looks pass.
type scriptedQueries struct {
	mu     sync.Mutex
	looks  int
	script [][]QueryRecord
	probe  func(ctx context.Context, look int)
}

func (q *scriptedQueries) gate(ctx context.Context) []QueryRecord {
	if StageOf(ctx) != StageWorkers {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.looks++
	if q.probe != nil {
		q.probe(ctx, q.looks)
	}
	return q.script[min(q.looks, len(q.script))-1]
}

func nodeOf(t *testing.T, cs *fake.Clientset, name string) map[string]string {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Spec.Unschedulable {
		return map[string]string{"cordoned": "true"}
	}
	if n.Annotations == nil {
		return map[string]string{}
	}
	return n.Annotations
}

func pausedEvents(t *testing.T, cs *fake.Clientset, node, want string) int {
	t.Helper()
	evs, _ := cs.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
	n := 0
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == node && e.Reason == EventReasonPrefix+"Paused" && strings.Contains(e.Message, want) {
			n++
		}
	}
	return n
}

// TestQueryGatePauses: a query that does not pass holds the run, before
// a node (the node untouched but for the pause notice) or after a node's
// validation (the node done, the run not finished); the pause is
// upgate_rollout_paused{reason="query"} 1 while it lasts, the node's
// upgate.dev/paused "query: NAME = VALUE" (removed after), an
// UpgatePaused Event, output lines PAUSED (query) and RESUMED, and a
// PauseRecord with reason query and the queries, in the run record.
func TestQueryGatePauses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script [][]QueryRecord // the workers' looks: before w-1, [again before w-1], after w-1
		first  int             // the look the pause begins at, from 0
		paused int             // the looks while paused, after the first
		before string
		check  func(t *testing.T, cs *fake.Clientset, d *fakeDriver) string
	}{
		{
			name: "before a node",
			// After the pause the alerts and then the queries are looked
			// at once more before the node is taken: a sixth look.
			script: [][]QueryRecord{budgetFailing, budgetFailing, budgetFailing, nil, nil, nil},
			first:  0, paused: 2, before: "workers w-1",
			check: func(t *testing.T, cs *fake.Clientset, d *fakeDriver) string {
				a := nodeOf(t, cs, "w-1")
				if len(a) != 1 || slices.Contains(d.calls, "workers/w-1") {
					return fmt.Sprintf("w-1 touched while paused: %v, driver %v", a, d.calls)
				}
				return a[AnnotationPaused]
			},
		},
		{
			name:   "after the last node's validation",
			script: [][]QueryRecord{nil, budgetFailing, budgetFailing, budgetFailing, nil},
			first:  1, paused: 2, before: "after workers w-1",
			check: func(t *testing.T, cs *fake.Clientset, d *fakeDriver) string {
				a := nodeOf(t, cs, "w-1")
				if a[AnnotationPhase] != string(PhaseDone) {
					return fmt.Sprintf("w-1 at %q while paused after it, want done", a[AnnotationPhase])
				}
				return a[AnnotationPaused]
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newClusterNodes("cp-1", "w-1")
			d := &fakeDriver{client: cs}
			r, out := newTestRunner(t, cs, d, noFindings)
			obs := newRecObserver()
			r.Observer = obs
			r.QueryWait = time.Minute
			var problems []string
			first := tc.first
			q := &scriptedQueries{script: tc.script, probe: func(ctx context.Context, look int) {
				if look-1 <= first || look > first+1+tc.paused {
					return
				}
				if got := tc.check(t, cs, d); got != "query: budget = 0" {
					problems = append(problems, fmt.Sprintf("look %d: %s %q, want %q", look, AnnotationPaused, got, "query: budget = 0"))
				}
				obs.mu.Lock()
				if obs.pausing[PauseQuery] != 1 {
					problems = append(problems, "paused{query} not 1 while paused")
				}
				obs.mu.Unlock()
			}}
			r.QueryGate = q.gate
			res, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			if len(problems) > 0 {
				t.Errorf("%v", problems)
			}
			if q.looks != len(tc.script) {
				t.Errorf("%d looks in the workers stage, want %d", q.looks, len(tc.script))
			}
			if obs.pausing[PauseQuery] != 0 || obs.paused[PauseQuery] != 1 {
				t.Errorf("query pauses under way %d, begun %d; want 0 and 1", obs.pausing[PauseQuery], obs.paused[PauseQuery])
			}
			for _, want := range []string{"[" + tc.before + "] PAUSED (query): budget = 0; looking again every 1ms for up to 1m0s", "[" + tc.before + "] RESUMED: every query passes (paused "} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output does not say %q:\n%s", want, out)
				}
			}
			if a := nodeOf(t, cs, "w-1"); a[AnnotationPaused] != "" || a[AnnotationPhase] != string(PhaseDone) {
				t.Errorf("w-1 after the run: %v", a)
			}
			if n := pausedEvents(t, cs, "w-1", "query budget = 0"); n != 1 {
				t.Errorf("%d %sPaused events on w-1 naming the query, want 1", n, EventReasonPrefix)
			}
			if len(res.Pauses) != 1 {
				t.Fatalf("pauses %+v, want one", res.Pauses)
			}
			p := res.Pauses[0]
			if p.Reason != PauseQuery || p.Before != tc.before || !slices.Equal(p.Queries, budgetFailing) || p.Alerts != nil || p.Result != PauseResumed || p.End.Before(p.Start) {
				t.Errorf("pause %+v", p)
			}
			var buf bytes.Buffer
			if err := NewRunRecord(RecordInput{Plan: plan("w-1"), Result: res}).WriteJSON(&buf); err != nil {
				t.Fatal(err)
			}
			var rec struct {
				Verdict string `json:"verdict"`
				Pauses  []struct {
					Reason  string           `json:"reason"`
					Queries []map[string]any `json:"queries"`
				} `json:"pauses"`
			}
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Verdict != RunDone || len(rec.Pauses) != 1 || rec.Pauses[0].Reason != "query" || len(rec.Pauses[0].Queries) != 1 ||
				rec.Pauses[0].Queries[0]["name"] != "budget" || rec.Pauses[0].Queries[0]["query"] != "error_ratio < 0.01" || rec.Pauses[0].Queries[0]["value"] != "0" {
				t.Errorf("run record: %s", buf.String())
			}
		})
	}
}

// TestQueryGateStopsAfterQueryWait: a query that keeps failing stops the
// run after QueryWait with ErrQueryGate (an ErrBlocked: exit 1) naming it
// and its value or error; the next node is untouched (before it: not
// even started; after the previous one's validation: not started
// either), the pause recorded as stopped; the next run, the query
// passing, resumes and finishes.
func TestQueryGateStopsAfterQueryWait(t *testing.T) {
	unreadable := []QueryRecord{{Name: "budget", Query: "error_ratio < 0.01", Error: "Prometheus http://p:9090 cannot be read: connection refused"}}
	for _, tc := range []struct {
		name   string
		script [][]QueryRecord
		where  string
		state  string
		want   string
		done   []string // nodes done after the stopped run
	}{
		{"before a node", [][]QueryRecord{unreadable}, "before workers w-1", "nothing of it was touched", "budget: Prometheus http://p:9090 cannot be read", nil},
		{"after a node's validation", [][]QueryRecord{nil, budgetFailing}, "after workers w-1", "the node is done, and the run stops there", "budget = 0", []string{"w-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newClusterNodes("cp-1", "w-1", "w-2")
			d := &fakeDriver{client: cs}
			r, out := newTestRunner(t, cs, d, noFindings)
			obs := newRecObserver()
			r.Observer = obs
			r.QueryWait = 20 * time.Millisecond
			r.QueryGate = (&scriptedQueries{script: tc.script}).gate
			res, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37"))
			if !errors.Is(err, ErrQueryGate) || !errors.Is(err, ErrBlocked) {
				t.Fatalf("err %v, want ErrQueryGate\n%s", err, out)
			}
			for _, want := range []string{tc.where, "--gate-query-wait 20ms", tc.want, "upgate run --target v1.37", "once they pass", tc.state} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if !strings.Contains(out.String(), "STOPPED (query): "+tc.want) {
				t.Errorf("output does not say STOPPED (query):\n%s", out)
			}
			for _, n := range []string{"w-1", "w-2"} {
				a := nodeOf(t, cs, n)
				if slices.Contains(tc.done, n) {
					if a[AnnotationPhase] != string(PhaseDone) || a[AnnotationPaused] != "" {
						t.Errorf("%s: %v, want done without a pause notice", n, a)
					}
				} else if len(a) != 0 || slices.Contains(d.calls, "workers/"+n) {
					t.Errorf("%s touched: %v, driver %v", n, a, d.calls)
				}
			}
			if obs.pausing[PauseQuery] != 0 || obs.paused[PauseQuery] != 1 {
				t.Errorf("query pauses under way %d, begun %d; want 0 and 1", obs.pausing[PauseQuery], obs.paused[PauseQuery])
			}
			if len(res.Pauses) != 1 || res.Pauses[0].Result != PauseStopped || len(res.Pauses[0].Queries) != 1 {
				t.Errorf("pauses %+v, want one, stopped, with the query", res.Pauses)
			}
			rec := NewRunRecord(RecordInput{Plan: plan("w-1", "w-2"), Result: res, Err: err})
			if rec.Verdict != RunBlocked {
				t.Errorf("record verdict %s, want blocked", rec.Verdict)
			}
			r.QueryGate = func(context.Context) []QueryRecord { return nil }
			if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); err != nil {
				t.Fatalf("resumed run: %v\n%s", err, out)
			}
			for _, n := range []string{"w-1", "w-2"} {
				if a := nodeOf(t, cs, n); a[AnnotationPhase] != string(PhaseDone) {
					t.Errorf("%s at %q after the resumed run, want done", n, a[AnnotationPhase])
				}
			}
		})
	}
}

// TestQueryGateStoppedWhilePaused: a run cancelled while a query holds it
// stops (ErrStopped), the pause recorded as stopped, the notice removed.
// A dry run never evaluates the queries; stages are not held by them.
func TestQueryGateStoppedWhilePaused(t *testing.T) {
	cs := newClusterNodes("cp-1", "w-1")
	r, _ := newTestRunner(t, cs, addonFakeDriver{&fakeDriver{client: cs}}, noFindings)
	obs := newRecObserver()
	r.Observer = obs
	r.QueryWait = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stages []StageName
	q := &scriptedQueries{script: [][]QueryRecord{budgetFailing}, probe: func(ctx context.Context, look int) {
		if look == 2 && nodeOf(t, cs, "w-1")[AnnotationPaused] == "" {
			t.Errorf("w-1 has no %s while paused", AnnotationPaused)
		}
		if look == 3 {
			cancel()
		}
	}}
	r.QueryGate = func(ctx context.Context) []QueryRecord {
		stages = append(stages, StageOf(ctx))
		return q.gate(ctx)
	}
	res, err := r.Run(ctx, plan("w-1"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), "paused before workers w-1") {
		t.Fatalf("err %v, want ErrStopped", err)
	}
	if len(res.Pauses) != 1 || res.Pauses[0].Result != PauseStopped || obs.pausing[PauseQuery] != 0 {
		t.Errorf("pauses %+v, under way %d", res.Pauses, obs.pausing[PauseQuery])
	}
	if a := nodeOf(t, cs, "w-1"); len(a) != 0 {
		t.Errorf("w-1 after a run stopped while paused before it: %v", a)
	}
	// Looked at before cp-1, after it, and three times before w-1: no stage.
	if want := []StageName{StageEtcd, StageEtcd, StageWorkers, StageWorkers, StageWorkers}; !slices.Equal(stages, want) {
		t.Errorf("looked in stages %v, want %v", stages, want)
	}

	r.DryRun = true
	r.QueryGate = func(context.Context) []QueryRecord {
		t.Error("a dry run evaluated the queries")
		return nil
	}
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); err != nil {
		t.Errorf("dry run: %v", err)
	}
}

// TestQueryGateAtTheRunEnd: once every hop ran, the queries are asked
// once more before the run finishes, so a run stopped after its last
// node's validation and run again (nothing left to upgrade) still waits
// for them: it pauses before RunEnd, and stops past QueryWait or
// finishes once they pass.
func TestQueryGateAtTheRunEnd(t *testing.T) {
	cs := newClusterNodes("cp-1", "w-1")
	r, out := newTestRunner(t, cs, &fakeDriver{client: cs}, noFindings)
	r.QueryWait = 20 * time.Millisecond
	// The first run stops after w-1's validation.
	r.QueryGate = (&scriptedQueries{script: [][]QueryRecord{nil, budgetFailing}}).gate
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); !errors.Is(err, ErrQueryGate) || !strings.Contains(err.Error(), "after workers w-1") {
		t.Fatalf("err %v, want ErrQueryGate after w-1\n%s", err, out)
	}
	atEnd := func(looks *int, failing int) QueryGateFunc {
		return func(ctx context.Context) []QueryRecord {
			if StageOf(ctx) != "" {
				t.Errorf("looked in stage %s with every node done", StageOf(ctx))
				return nil
			}
			if *looks++; *looks <= failing {
				return budgetFailing
			}
			return nil
		}
	}
	// Run again with the query still failing: it stops at the end.
	looks := 0
	r.QueryGate = atEnd(&looks, 1000)
	res, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrQueryGate) || !strings.Contains(err.Error(), "before "+RunEnd) || !strings.Contains(err.Error(), "every node is done") {
		t.Fatalf("err %v, want ErrQueryGate before the run's end\n%s", err, out)
	}
	if len(res.Pauses) != 1 || res.Pauses[0].Before != RunEnd || res.Pauses[0].Result != PauseStopped {
		t.Errorf("pauses %+v", res.Pauses)
	}
	if rec := NewRunRecord(RecordInput{Plan: plan("w-1"), Result: res, Err: err}); rec.Verdict != RunBlocked {
		t.Errorf("verdict %s, want blocked", rec.Verdict)
	}
	// Once it passes, the run finishes.
	r.QueryWait = time.Minute
	looks = 0
	r.QueryGate = atEnd(&looks, 2)
	res, err = r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if len(res.Pauses) != 1 || res.Pauses[0].Before != RunEnd || res.Pauses[0].Result != PauseResumed || looks != 3 {
		t.Errorf("pauses %+v after %d looks", res.Pauses, looks)
	}
	if !strings.Contains(out.String(), "["+RunEnd+"] PAUSED (query): budget = 0") || !strings.Contains(out.String(), "["+RunEnd+"] RESUMED: every query passes") {
		t.Errorf("output:\n%s", out)
	}
}

// TestAlertThatFiresDuringAQueryPauseStillHolds: before a node the alert
// and query gates are one gate. An alert that begins firing while a query
// holds the run holds it too once the query passes: the node is taken
// only after a look at which neither blocks.
func TestAlertThatFiresDuringAQueryPauseStillHolds(t *testing.T) {
	cs := newClusterNodes("cp-1", "w-1")
	d := &fakeDriver{client: cs}
	r, out := newTestRunner(t, cs, d, noFindings)
	r.QueryWait, r.AlertWait = time.Minute, time.Minute
	var (
		mu     sync.Mutex
		firing bool
		alerts int // the workers stage's alert looks while firing
	)
	// The query fails twice; at its second look the alert starts firing.
	q := &scriptedQueries{script: [][]QueryRecord{budgetFailing, budgetFailing, nil}, probe: func(_ context.Context, look int) {
		if look == 2 {
			mu.Lock()
			firing = true
			mu.Unlock()
		}
	}}
	r.QueryGate = q.gate
	r.AlertGate = func(ctx context.Context) ([]string, error) {
		if StageOf(ctx) != StageWorkers {
			return nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		if !firing {
			return nil, nil
		}
		if slices.Contains(d.calls, "workers/w-1") {
			t.Errorf("w-1 upgraded while the alert fired")
		}
		alerts++
		if alerts == 3 {
			firing = false
		}
		return []string{"NodeDown"}, nil
	}
	res, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if alerts != 3 {
		t.Errorf("the alert was looked at %d times while firing, want 3 (it held the run until it resolved)", alerts)
	}
	var reasons []string
	for _, p := range res.Pauses {
		reasons = append(reasons, p.Reason+" "+p.Result)
	}
	if want := []string{"query resumed", "alert resumed"}; !slices.Equal(reasons, want) {
		t.Errorf("pauses %v, want %v", reasons, want)
	}
	if !strings.Contains(out.String(), "[workers w-1] PAUSED (alert): firing: NodeDown") {
		t.Errorf("output does not show the alert pause before w-1:\n%s", out)
	}
	if a := nodeOf(t, cs, "w-1"); a[AnnotationPhase] != string(PhaseDone) {
		t.Errorf("w-1 after the run: %v", a)
	}
}
