package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/upgate-dev/upgate/finding"
)

// nodeEvents lists the Events on a node in the order they were made.
func nodeEvents(t *testing.T, cs *fake.Clientset, node string) []corev1.Event {
	t.Helper()
	l, err := cs.CoreV1().Events(metav1.NamespaceDefault).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range l.Items {
		if e.InvolvedObject.Kind == "Node" && e.InvolvedObject.Name == node {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstTimestamp.Before(&out[j].FirstTimestamp) })
	return out
}

// TestEventsForEachStep: every step on a node is an Event on it, reason
// Upgate + the step, Normal when it went well; a failure adds a Warning
// UpgateFailed.
func TestEventsForEachStep(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
	d := &fakeDriver{client: cs, failFor: "w-2"}
	r, out := newTestRunner(t, cs, d, noFindings)
	r.Validate = noFindings
	tick := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r.Now = func() time.Time { tick = tick.Add(time.Millisecond); return tick }
	if _, err := r.Run(context.Background(), plan("w-1", "w-2"), mustTarget(t, "v1.37")); !errors.Is(err, ErrNodeFailed) {
		t.Fatalf("err %v, want w-2 to fail\n%s", err, out)
	}
	reasons := func(node string) string {
		var rs []string
		for _, e := range nodeEvents(t, cs, node) {
			rs = append(rs, e.Reason+"/"+e.Type)
			if e.InvolvedObject.UID != "w-1" && e.InvolvedObject.UID != "w-2" || e.Source.Component != "upgate" || e.Message == "" {
				t.Errorf("event %s: involved %+v source %+v message %q", e.Name, e.InvolvedObject, e.Source, e.Message)
			}
		}
		return strings.Join(rs, " ")
	}
	if got, want := reasons("w-1"), "UpgateGate/Normal UpgateCordon/Normal UpgateDrain/Normal UpgateUpgrade/Normal UpgateReady/Normal UpgateUncordon/Normal UpgateValidate/Normal"; got != want {
		t.Errorf("w-1 events:\n got %s\nwant %s", got, want)
	}
	if got, want := reasons("w-2"), "UpgateGate/Normal UpgateCordon/Normal UpgateDrain/Normal UpgateUpgrade/Warning UpgateFailed/Warning"; got != want {
		t.Errorf("w-2 events:\n got %s\nwant %s", got, want)
	}
	if evs := nodeEvents(t, cs, "cp-1"); len(evs) != 0 {
		t.Errorf("cp-1 was at the target, yet got events: %v", evs)
	}
}

// TestEventFailuresDoNotFailTheRun: a cluster that forbids Events costs one
// warning line, and the run finishes.
func TestEventFailuresDoNotFailTheRun(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.37.0", nil, false), liveNode("w-1", "v1.36.3", nil, false))
	cs.PrependReactor("create", "events", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("RBAC"))
	})
	r, out := newTestRunner(t, cs, &fakeDriver{client: cs}, noFindings)
	if _, err := r.Run(context.Background(), plan("w-1"), mustTarget(t, "v1.37")); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if n := strings.Count(out.String(), "cannot create Events"); n != 1 {
		t.Errorf("%d warnings about Events, want 1:\n%s", n, out)
	}
}

// TestRunRecordShape: the record of a finished run is the contract's Run:
// the plan, each node in plan order with its hop, stage, timed steps,
// findings, outcome and reason, the backups, the verdict; the same run
// gives the same bytes.
func TestRunRecordShape(t *testing.T) {
	cs := fake.NewClientset(liveNode("cp-1", "v1.36.3", nil, false), liveNode("w-1", "v1.36.3", nil, false), liveNode("w-2", "v1.36.3", nil, false))
	gate := func(_ context.Context, node string) ([]finding.Finding, error) {
		if node == "w-2" {
			return []finding.Finding{{Check: "safety.emptydir", Severity: finding.SeverityBlock, Node: node, Message: "data"}}, nil
		}
		return nil, nil
	}
	r, out := newTestRunner(t, cs, &fakeDriver{client: cs}, gate)
	r.PartialOK = true
	tick := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r.Now = func() time.Time { tick = tick.Add(time.Second); return tick }
	p := plan("w-1", "w-2")
	p.APIVersion, p.Kind, p.CurrentVersion, p.TargetVersion, p.Verdict = "upgate.dev/v1alpha1", "Plan", "v1.36.3", "v1.37", VerdictPassed
	res, err := r.Run(context.Background(), p, mustTarget(t, "v1.37"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	in := RecordInput{Plan: p, Result: res, OnDrainTimeout: "abort", StartedAt: tick, FinishedAt: tick}
	var a, b bytes.Buffer
	if err := NewRunRecord(in).WriteJSON(&a); err != nil {
		t.Fatal(err)
	}
	if err := NewRunRecord(in).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("two records of one run differ")
	}
	var rec struct {
		APIVersion, Kind, Verdict, TargetVersion string
		Plan                                     struct{ Kind string }
		Nodes                                    []struct {
			Name, Hop, Stage, Outcome, Reason string
			Steps                             []struct {
				Name, Result string
				Start, End   time.Time
			}
			Findings []struct{ Check string }
		}
		EtcdBackups []struct{ Hop, Location, Note string }
	}
	if err := json.Unmarshal(a.Bytes(), &rec); err != nil {
		t.Fatalf("%v\n%s", err, a.String())
	}
	if rec.APIVersion != "upgate.dev/v1alpha1" || rec.Kind != "Run" || rec.Verdict != RunDone || rec.TargetVersion != "v1.37" || rec.Plan.Kind != "Plan" {
		t.Errorf("header: %+v", rec)
	}
	var got []string
	for _, n := range rec.Nodes {
		got = append(got, n.Name+"/"+n.Hop+"/"+n.Stage+"/"+n.Outcome)
		for _, s := range n.Steps {
			if s.Start.IsZero() || s.End.Before(s.Start) {
				t.Errorf("%s step %s: start %s end %s", n.Name, s.Name, s.Start, s.End)
			}
		}
	}
	if want := "cp-1/v1.37/etcd/done w-1/v1.37/workers/done w-2/v1.37/workers/skipped"; strings.Join(got, " ") != want {
		t.Errorf("nodes %v, want %s", got, want)
	}
	w2 := rec.Nodes[2]
	if len(w2.Findings) != 1 || w2.Findings[0].Check != "safety.emptydir" || len(w2.Steps) != 1 || w2.Steps[0].Result != StepBlocked {
		t.Errorf("w-2: findings %+v steps %+v", w2.Findings, w2.Steps)
	}
	if len(rec.Nodes[1].Steps) != 6 {
		t.Errorf("w-1 steps %+v, want gate cordon drain upgrade ready uncordon", rec.Nodes[1].Steps)
	}
	if len(rec.EtcdBackups) != 1 || rec.EtcdBackups[0].Hop != "v1.37" || rec.EtcdBackups[0].Location != "" || rec.EtcdBackups[0].Note == "" {
		t.Errorf("backups %+v: one, location unknown, with a note", rec.EtcdBackups)
	}
}

// TestCommandDriverSaysWhereTheBackupIs: a command driver's
// UPGATE_BACKUP_LOCATION= line is where its backup is kept.
func TestCommandDriverSaysWhereTheBackupIs(t *testing.T) {
	var out bytes.Buffer
	d := &CommandDriver{Command: `[ "$UPGATE_STAGE" = etcd-backup ] && printf 'saving\nUPGATE_BACKUP_LOCATION=/var/backups/etcd-1.db'`, Out: &out, ErrOut: &out}
	if err := d.EtcdBackup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if loc, taken := d.LastBackup(); loc != "/var/backups/etcd-1.db" || !taken {
		t.Errorf("LastBackup = %q %t", loc, taken)
	}
	d.Command = "true"
	if err := d.EtcdBackup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if loc, _ := d.LastBackup(); loc != "" {
		t.Errorf("a backup that said nothing kept the last location %q", loc)
	}
	if loc, taken := (&KwokDriver{}).LastBackup(); loc != "" || taken {
		t.Errorf("kwok LastBackup = %q %t, want none taken", loc, taken)
	}
}
