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
)

// addonFakeDriver is a fakeDriver that also runs the add-on stage, so
// the run has a stage to check the alerts before.
type addonFakeDriver struct{ *fakeDriver }

func (d addonFakeDriver) UpgradeAddons(context.Context, string) error { return nil }

// TestAlertGatePausesBeforeANodeThenResumes: an alert firing when w-1 is
// next pauses the run before w-1 is touched (no annotation, no cordon,
// no driver call), with upgate_rollout_paused{reason="alert"} at 1; once
// it resolves the run resumes and finishes, the pause is 0 again, and the
// run record holds the pause: before what, which alerts, start, end,
// resumed.
func TestAlertGatePausesBeforeANodeThenResumes(t *testing.T) {
	cs := newClusterNodes("cp-1", "w-1")
	d := &fakeDriver{client: cs}
	r, out := newTestRunner(t, cs, d, noFindings)
	obs := newRecObserver()
	r.Observer = obs
	r.AlertWait = time.Minute
	var (
		mu      sync.Mutex
		looks   int
		touched []string
	)
	r.AlertGate = func(ctx context.Context) ([]string, error) {
		if StageOf(ctx) != StageWorkers {
			return nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		looks++
		if looks > 1 {
			// Paused: w-1 is as it was, and the metric says so.
			n, err := cs.CoreV1().Nodes().Get(ctx, "w-1", metav1.GetOptions{})
			// w-1 is as it was but for the pause notice.
			if err != nil || n.Spec.Unschedulable || len(n.Annotations) != 1 || slices.Contains(d.calls, "workers/w-1") {
				touched = append(touched, "w-1 touched while paused")
			}
			if got, want := n.Annotations[AnnotationPaused], "alert: firing: KubeNodeNotReady, NodeDown"; got != want {
				touched = append(touched, fmt.Sprintf("%s %q while paused, want %q", AnnotationPaused, got, want))
			}
			obs.mu.Lock()
			if obs.pausing[PauseAlert] != 1 {
				touched = append(touched, "paused{alert} not 1 while paused")
			}
			obs.mu.Unlock()
		}
		if looks <= 3 {
			return []string{"KubeNodeNotReady", "NodeDown"}, nil
		}
		return nil, nil
	}
	res, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if len(touched) > 0 {
		t.Errorf("%v", touched)
	}
	if looks != 4 {
		t.Errorf("the alerts were looked at %d times before w-1, want 4 (3 firing, then resolved)", looks)
	}
	if obs.pausing[PauseAlert] != 0 || obs.paused[PauseAlert] != 1 {
		t.Errorf("alert pauses under way %d, begun %d; want 0 and 1", obs.pausing[PauseAlert], obs.paused[PauseAlert])
	}
	if !strings.Contains(out.String(), "[workers w-1] PAUSED (alert): firing: KubeNodeNotReady, NodeDown") || !strings.Contains(out.String(), "[workers w-1] RESUMED") {
		t.Errorf("output does not say the run paused and resumed before w-1:\n%s", out)
	}
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
	if _, ok := n.Annotations[AnnotationPaused]; ok {
		t.Errorf("%s left on w-1 after the pause", AnnotationPaused)
	}
	evs, _ := cs.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
	paused := 0
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == "w-1" && e.Reason == EventReasonPrefix+"Paused" && strings.Contains(e.Message, "NodeDown") {
			paused++
		}
	}
	if paused != 1 {
		t.Errorf("%d %sPaused events on w-1 naming the alerts, want 1", paused, EventReasonPrefix)
	}
	if len(res.Pauses) != 1 {
		t.Fatalf("pauses %+v, want one", res.Pauses)
	}
	p := res.Pauses[0]
	if p.Reason != PauseAlert || p.Before != "workers w-1" || !slices.Equal(p.Alerts, []string{"KubeNodeNotReady", "NodeDown"}) || p.Result != PauseResumed || p.End.Before(p.Start) || p.Start.IsZero() {
		t.Errorf("pause %+v", p)
	}
	var buf bytes.Buffer
	if err := NewRunRecord(RecordInput{Plan: plan("w-1"), Result: res}).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Verdict string        `json:"verdict"`
		Pauses  []PauseRecord `json:"pauses"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != RunDone || len(rec.Pauses) != 1 || rec.Pauses[0].Before != "workers w-1" {
		t.Errorf("run record: verdict %s, pauses %+v", rec.Verdict, rec.Pauses)
	}
}

// TestAlertGateFailsClosedAndStopsAfterAlertWait: an alert source that
// cannot be read blocks like a firing alert; after AlertWait the run stops
// with ErrAlertsFiring (an ErrBlocked: exit 1) naming why, before w-1 is
// touched, the pause recorded as stopped; the next run, the source
// readable and quiet, resumes and finishes. A firing alert stops the same.
func TestAlertGateFailsClosedAndStopsAfterAlertWait(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alerts []string
		err    error
		want   string
	}{
		{"unreadable", nil, errors.New("alert source http://am/api/v2/alerts cannot be read: connection refused"), "the alert source cannot be read (it fails closed): alert source http://am/api/v2/alerts cannot be read"},
		{"firing", []string{"NodeDown"}, nil, "firing: NodeDown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newClusterNodes("cp-1", "w-1")
			d := &fakeDriver{client: cs}
			r, out := newTestRunner(t, cs, d, noFindings)
			obs := newRecObserver()
			r.Observer = obs
			r.AlertWait = 20 * time.Millisecond
			r.AlertGate = func(ctx context.Context) ([]string, error) {
				if StageOf(ctx) == StageWorkers {
					return tc.alerts, tc.err
				}
				return nil, nil
			}
			res, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37"))
			if !errors.Is(err, ErrAlertsFiring) || !errors.Is(err, ErrBlocked) {
				t.Fatalf("err %v, want ErrAlertsFiring\n%s", err, out)
			}
			for _, want := range []string{"before workers w-1", "--alert-wait 20ms", tc.want, "upgate run --target v1.37"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
			// Not even the pause notice is left: the pause is over.
			if n.Spec.Unschedulable || len(n.Annotations) != 0 || slices.Contains(d.calls, "workers/w-1") {
				t.Errorf("w-1 touched: %+v, driver %v", n.Annotations, d.calls)
			}
			if obs.pausing[PauseAlert] != 0 || obs.paused[PauseAlert] != 1 {
				t.Errorf("alert pauses under way %d, begun %d; want 0 and 1", obs.pausing[PauseAlert], obs.paused[PauseAlert])
			}
			if len(res.Pauses) != 1 || res.Pauses[0].Result != PauseStopped || (tc.err != nil) != (res.Pauses[0].Error != "") {
				t.Errorf("pauses %+v, want one, stopped", res.Pauses)
			}
			rec := NewRunRecord(RecordInput{Plan: plan("w-1"), Result: res, Err: err})
			if rec.Verdict != RunBlocked || len(rec.Pauses) != 1 {
				t.Errorf("record: verdict %s, pauses %+v", rec.Verdict, rec.Pauses)
			}
			for _, nr := range rec.Nodes {
				if nr.Name == "w-1" && nr.Outcome != OutcomeNotStarted {
					t.Errorf("w-1 outcome %s, want not-started", nr.Outcome)
				}
			}
			// The alerts resolve: the next run resumes at w-1.
			r.AlertGate = func(context.Context) ([]string, error) { return nil, nil }
			if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); err != nil {
				t.Fatalf("resumed run: %v\n%s", err, out)
			}
			n, _ = cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
			if n.Annotations[AnnotationPhase] != string(PhaseDone) {
				t.Errorf("w-1 at %q after the resumed run, want done", n.Annotations[AnnotationPhase])
			}
		})
	}
}

// TestAlertGateBeforeEachStageAndNode: the alerts are looked at before
// every stage that changes something (the etcd backup, the
// cloud-controller-manager, the add-ons) and before every node, in the
// run's order; a dry run never looks.
func TestAlertGateBeforeEachStageAndNode(t *testing.T) {
	cs := newClusterNodes("cp-1", "w-1", "w-2")
	r, out := newTestRunner(t, cs, addonFakeDriver{&fakeDriver{client: cs}}, noFindings)
	r.AlertWait = time.Minute
	var mu sync.Mutex
	firing := false
	// Each check pauses once: the first look fires, the second not.
	r.AlertGate = func(context.Context) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		firing = !firing
		if firing {
			return []string{"Flapping"}, nil
		}
		return nil, nil
	}
	res, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var got []string
	for _, p := range res.Pauses {
		got = append(got, p.Before)
	}
	want := []string{"hop 1/1 to v1.37: etcd-backup", "etcd cp-1", "hop 1/1 to v1.37: cloud-controller-manager", "workers w-1", "workers w-2", "hop 1/1 to v1.37: addons"}
	if !slices.Equal(got, want) {
		t.Errorf("paused before %q, want %q", got, want)
	}

	// Always firing, no wait: the run stops before the first stage,
	// nothing done (no backup either).
	cs = newClusterNodes("cp-1", "w-1")
	d := &fakeDriver{client: cs}
	r, _ = newTestRunner(t, cs, d, noFindings)
	r.AlertGate = func(context.Context) ([]string, error) { return []string{"NodeDown"}, nil }
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); !errors.Is(err, ErrAlertsFiring) || !strings.Contains(err.Error(), "before hop 1/1 to v1.37: etcd-backup") {
		t.Errorf("err %v, want ErrAlertsFiring before the etcd backup", err)
	}
	if len(d.calls) != 0 {
		t.Errorf("driver called %v while alerts fired", d.calls)
	}

	r.DryRun = true
	r.AlertGate = func(context.Context) ([]string, error) {
		t.Error("a dry run looked at the alerts")
		return nil, nil
	}
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); err != nil {
		t.Errorf("dry run: %v", err)
	}
}

// TestAlertGateStoppedWhilePaused: a run cancelled while paused before a
// node stops (ErrStopped), the pause ended and recorded as stopped, the
// node's pause notice removed.
func TestAlertGateStoppedWhilePaused(t *testing.T) {
	cs := newClusterNodes("cp-1", "w-1")
	r, _ := newTestRunner(t, cs, &fakeDriver{client: cs}, noFindings)
	obs := newRecObserver()
	r.Observer = obs
	r.AlertWait = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	looks := 0
	r.AlertGate = func(ctx context.Context) ([]string, error) {
		if StageOf(ctx) != StageWorkers {
			return nil, nil
		}
		if looks == 1 {
			n, _ := cs.CoreV1().Nodes().Get(ctx, "w-1", metav1.GetOptions{})
			if n.Annotations[AnnotationPaused] == "" {
				t.Errorf("w-1 has no %s while paused", AnnotationPaused)
			}
		}
		if looks++; looks == 3 {
			cancel()
		}
		return []string{"NodeDown"}, nil
	}
	res, err := r.Run(ctx, plan("w-1"), mustTarget(t, "v1.37"))
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err %v, want ErrStopped", err)
	}
	if len(res.Pauses) != 1 || res.Pauses[0].Result != PauseStopped || obs.pausing[PauseAlert] != 0 {
		t.Errorf("pauses %+v, under way %d", res.Pauses, obs.pausing[PauseAlert])
	}
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
	if _, ok := n.Annotations[AnnotationPaused]; ok {
		t.Errorf("%s left on w-1 by a run stopped while paused", AnnotationPaused)
	}
}

// TestAlertPauseNoticeLeftBehindIsCleared: a pause notice a run could not
// remove (its lock lost while paused) goes with the node's cordon in the
// next run.
func TestAlertPauseNoticeLeftBehindIsCleared(t *testing.T) {
	cs := newClusterNodes("cp-1")
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), liveNode("w-1", "v1.36.3", map[string]string{AnnotationPaused: "alert: firing: NodeDown"}, false), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r, out := newTestRunner(t, cs, &fakeDriver{client: cs}, noFindings)
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w-1", metav1.GetOptions{})
	if v, ok := n.Annotations[AnnotationPaused]; ok {
		t.Errorf("%s %q left on w-1", AnnotationPaused, v)
	}
}
