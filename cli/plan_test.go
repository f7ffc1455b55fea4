package cli

import (
	"encoding/json"
	"fmt"
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
