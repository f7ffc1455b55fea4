package executor

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/kubever"
)

// HopRules are the release facts hops are planned from; the CLI fills
// them from the policies' version facts (policies.LoadFacts).
type HopRules struct {
	// LatestPatch is the newest patch release known of each minor, keyed
	// "1.36": an intermediate hop goes to it, else to the minor's .0.
	LatestPatch map[string]int
	// KubeletMaxMinorsOlder is how many minors a kubelet may be older than
	// kube-apiserver; KubeletLegacyMaxMinorsOlder applies instead to a
	// kubelet older than 1.KubeletLegacyBelowMinor. Zero windows move every
	// worker in every hop: the other safe extreme.
	KubeletMaxMinorsOlder       int
	KubeletLegacyBelowMinor     int
	KubeletLegacyMaxMinorsOlder int
}

// maxOlder is how many minors a kubelet at k may be behind kube-apiserver.
func (r HopRules) maxOlder(k *version.Version) int {
	if k.Major() == 1 && int(k.Minor()) < r.KubeletLegacyBelowMinor {
		return r.KubeletLegacyMaxMinorsOlder
	}
	return r.KubeletMaxMinorsOlder
}

// minorsAhead is how many minors a is ahead of b; across a major version
// it counts as too many for any skew window.
func minorsAhead(a, b *version.Version) int {
	if a.Major() != b.Major() {
		if a.Major() > b.Major() {
			return 1 << 20
		}
		return -(1 << 20)
	}
	return int(a.Minor()) - int(b.Minor())
}

// atOrPast reports whether v is at t or past it: a later minor, or t's
// minor and, when t names a patch, that patch or a later one.
func atOrPast(v *version.Version, t Target) bool {
	if d := minorsAhead(v, t.Version); d != 0 {
		return d > 0
	}
	return !t.HasPatch || v.Patch() >= t.Version.Patch()
}

// scheduleHops works out which nodes each hop upgrades. Etcd and
// control-plane nodes move in every hop of the control plane. A worker
// moves the fewest times that keep it inside the kubelet skew window of
// every control plane it meets, and always in the last hop: in hop h only
// if it would be outside the window of hop h+1's control plane otherwise.
// When a worker must move before the control plane's first hop (it is
// already at the edge of the window), or a node was moving to the current
// version when a run stopped, a first hop at the current version carries
// them: the control plane stays, those nodes catch up. A node in flight to
// a hop's version (upgate.dev/target) is in that hop, to be resumed.
func scheduleHops(roster []Stage, current *version.Version, final Target, rules HopRules, inflight map[string]string) []Hop {
	if atOrPast(current, final) && !final.Reached(kubever.Canonical(current)) {
		return nil // a downgrade: path.downgrade says so
	}
	cur := kubever.Canonical(current)
	steps := Hops(current, final.Version, final.Label, rules.LatestPatch)
	first := Hop{From: cur, To: cur, Note: "the control plane stays at " + cur + ": nodes that must catch up before it moves, or were moving to it when a run stopped"}
	if len(steps) == 0 {
		first = Hop{From: cur, To: final.Label, Note: "the control plane is at the target: nodes not there yet"}
	}
	cand := append([]Hop{first}, steps...)
	targets := make([]Target, len(cand))
	for i, h := range cand {
		t, err := ParseTarget(h.To)
		if err != nil {
			return nil // unreachable: hop versions are built from parsed versions
		}
		targets[i] = t
	}
	moves := make([]map[StageName][]PlannedNode, len(cand))
	for i := range moves {
		moves[i] = map[StageName][]PlannedNode{}
	}
	for _, st := range roster {
		for _, n := range st.Nodes {
			k, err := kubever.Parse(n.Kubelet)
			if err != nil {
				k = nil
			}
			for i, t := range targets {
				var move bool
				switch {
				case inflight[n.Name] != "" && t.Same(inflight[n.Name]):
					move = true
				case k != nil && atOrPast(k, t):
				case i == len(targets)-1:
					move = true
				case st.Name != StageWorkers, k == nil:
					// Control-plane and etcd nodes go with every hop of
					// the control plane; so does a kubelet of unknown version.
					move = i > 0
				default:
					move = minorsAhead(targets[i+1].Version, k) > rules.maxOlder(k)
				}
				if move {
					m := n
					if m.From = n.Kubelet; k != nil {
						m.From = kubever.Canonical(k)
					}
					moves[i][st.Name] = append(moves[i][st.Name], m)
					k = t.Version
				}
			}
		}
	}
	var hops []Hop
	for i, h := range cand {
		if i == 0 && len(moves[0]) == 0 {
			continue
		}
		for _, name := range Stages {
			nodes := moves[i][name]
			switch name {
			case StageEtcd, StageControlPlane, StageWorkers:
				if len(nodes) == 0 {
					continue
				}
			}
			h.Stages = append(h.Stages, Stage{Name: name, Nodes: nodes, Note: stageNote(name)})
		}
		hops = append(hops, h)
	}
	return hops
}

// HopRef names the hop a run is in: its number (from 1), the number of
// hops, and the versions it goes from and to.
type HopRef struct {
	Number, Of int
	From, To   string
}

type hopKey struct{}

// HopOf returns the hop of the node a Driver, Gate or Validate is called
// for; ok is false outside a run's hop. A gate evaluates the policies
// against HopOf(ctx).To: the control plane of this hop, not the final
// target, which may be minors away.
func HopOf(ctx context.Context) (HopRef, bool) {
	h, ok := ctx.Value(hopKey{}).(HopRef)
	return h, ok
}

// WithHop returns ctx as a run's Gate, Validate and CloudControllerGate
// see it within hop h: HopOf(ctx) returns h. For evaluating those
// functions outside a run (tests, tools).
func WithHop(ctx context.Context, h HopRef) context.Context {
	return context.WithValue(ctx, hopKey{}, h)
}

func (h HopRef) String() string {
	if h.From == "" {
		return fmt.Sprintf("hop %d/%d to %s", h.Number, h.Of, h.To)
	}
	return fmt.Sprintf("hop %d/%d %s -> %s", h.Number, h.Of, h.From, h.To)
}
