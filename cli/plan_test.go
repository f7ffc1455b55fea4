package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/policies"
)

// TestPlanHops: on the v1.35.2 test cluster, --target v1.37 is two hops,
// the first to the newest 1.36 patch the release data knows; the JSON plan
// is the contract's Plan report, and run --dry-run --format json writes the
// same bytes; the text dry run lists the steps hop by hop with the
// version each node goes to.
func TestPlanHops(t *testing.T) {
	facts, err := policies.LoadFacts()
	if err != nil {
		t.Fatal(err)
	}
	mid := fmt.Sprintf("v1.36.%d", facts.Releases.LatestPatch["1.36"])
	code, out, stderr := run(t, "", "plan", "--from", "testdata/cluster.yaml", "--target", "v1.37", "--format", "json")
	if code != 0 {
		t.Fatalf("plan: exit %d: %s\n%s", code, stderr, out)
	}
	var p struct {
		Kind, Verdict string
		Hops          []struct {
			From, To string
			Stages   []struct {
				Name  string
				Nodes []struct{ Name string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, out)
	}
	if p.Kind != "Plan" || p.Verdict != "passed" || len(p.Hops) != 2 || p.Hops[0].To != mid || p.Hops[1].From != mid || p.Hops[1].To != "v1.37" {
		t.Fatalf("plan %+v, want passed in two hops through %s", p, mid)
	}
	for i, h := range p.Hops {
		var workers []string
		for _, st := range h.Stages {
			if st.Name == "workers" {
				for _, n := range st.Nodes {
					workers = append(workers, n.Name)
				}
			}
		}
		if got, want := strings.Join(workers, ","), map[int]string{0: "", 1: "worker-1,worker-2"}[i]; got != want {
			t.Errorf("hop %d workers %q, want %q: 1.35 kubelets stay inside the skew until the last hop", i+1, got, want)
		}
	}
	code, dry, stderr := run(t, "", "run", "--dry-run", "--from", "testdata/cluster.yaml", "--target", "v1.37", "--format", "json")
	if code != 0 || dry != out {
		t.Errorf("run --dry-run --format json: exit %d (%s); want the plan's bytes:\n%s", code, stderr, dry)
	}
	code, text, stderr := run(t, "", "run", "--dry-run", "--from", "testdata/cluster.yaml", "--target", "v1.37")
	if code != 0 {
		t.Fatalf("run --dry-run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Upgrade v1.35.2 -> v1.37 in 2 hops",
		"Hop 1/2: v1.35.2 -> " + mid,
		"cp-1: gate, cordon, drain 0 pods (eviction API), upgrade to " + mid,
		"Hop 2/2: " + mid + " -> v1.37",
		"worker-1: gate, cordon, drain 0 pods (eviction API), upgrade to v1.37",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dry run lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "worker-1") < strings.Index(text, "Hop 2/2") {
		t.Errorf("worker-1 is upgraded before the last hop:\n%s", text)
	}
}

// TestPlanJudgesEachHopOnItsOwnState: a 1.33 cluster going to 1.37 is four
// hops; its 1.33 kubelets are four minors behind the target, yet the hops
// move them before any hop leaves them outside the skew window, so the
// skew checks, judged hop by hop, do not block. A kubelet already outside
// the window (1.29 under a 1.33 control plane) still blocks, and the
// finding says which hop.
func TestPlanJudgesEachHopOnItsOwnState(t *testing.T) {
	raw, err := os.ReadFile("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	at133 := strings.ReplaceAll(string(raw), "v1.35.2", "v1.33.4")
	for _, tc := range []struct {
		name, state string
		code, hops  int
		blocker     string // node whose blockers must include skew.kubelet-too-old
	}{
		{"1.33 kubelets move on the way", at133, 0, 4, ""},
		{"a 1.29 kubelet is already outside the window", strings.Replace(at133, "nodeInfo: {kubeletVersion: v1.33.4}\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: worker-2", "nodeInfo: {kubeletVersion: v1.29.0}\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: worker-2", 1), 1, 5, "worker-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cluster.yaml")
			if err := os.WriteFile(path, []byte(tc.state), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.blocker != "" && !strings.Contains(tc.state, "v1.29.0") {
				t.Fatal("the fixture edit did not apply")
			}
			code, out, stderr := run(t, "", "plan", "--from", path, "--target", "v1.37", "--format", "json")
			if code != tc.code {
				t.Fatalf("plan: exit %d, want %d: %s\n%s", code, tc.code, stderr, out)
			}
			var p struct {
				Verdict string
				Hops    []struct {
					From, To string
					Stages   []struct {
						Name  string
						Nodes []struct {
							Name     string
							Blockers []string
						}
					}
				}
				Findings []struct{ Check, Node, Message string }
			}
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatalf("plan JSON: %v\n%s", err, out)
			}
			if len(p.Hops) != tc.hops || p.Hops[tc.hops-1].To != "v1.37" {
				t.Fatalf("hops %+v, want %d to v1.37", p.Hops, tc.hops)
			}
			var blocked []string
			for _, h := range p.Hops {
				for _, st := range h.Stages {
					for _, n := range st.Nodes {
						if len(n.Blockers) > 0 {
							blocked = append(blocked, n.Name+"="+strings.Join(n.Blockers, "+"))
						}
					}
				}
			}
			if tc.blocker == "" {
				if len(blocked) > 0 || p.Verdict != "passed" {
					t.Fatalf("verdict %s, blocked %v: the hops keep every kubelet in the window", p.Verdict, blocked)
				}
				return
			}
			if p.Verdict != "blocked" || !slices.Contains(blocked, tc.blocker+"=skew.kubelet-too-old") {
				t.Fatalf("verdict %s, blocked %v; want %s blocked by skew.kubelet-too-old", p.Verdict, blocked, tc.blocker)
			}
			for _, f := range p.Findings {
				if f.Check == "skew.kubelet-too-old" && f.Node == tc.blocker && !strings.HasPrefix(f.Message, "hop 1 of 5 (v1.33.4 → v1.33.4): ") {
					t.Errorf("the finding does not say its hop: %q", f.Message)
				}
			}
		})
	}
}
