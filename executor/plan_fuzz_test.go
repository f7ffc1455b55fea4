package executor

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// FuzzPlanHops builds plans between fuzzed versions, as the CLI does:
// versions kubever parses, and only gaps kubever.CheckGap lets through
// (a target further ahead is refused before planning). The hops must stay
// within that bound, go one minor at a time, and chain from the current
// version to the target.
func FuzzPlanHops(f *testing.F) {
	f.Add(uint16(1), uint16(35), uint16(2), uint16(1), uint16(36), uint16(0), false)
	f.Add(uint16(1), uint16(34), uint16(3), uint16(1), uint16(36), uint16(1), true)
	f.Add(uint16(1), uint16(35), uint16(2), uint16(1), uint16(45), uint16(0), false)
	f.Add(uint16(1), uint16(36), uint16(0), uint16(1), uint16(35), uint16(0), false)
	f.Add(uint16(1), uint16(35), uint16(2), uint16(2), uint16(0), uint16(0), false)
	f.Fuzz(func(t *testing.T, cMajor, cMinor, cPatch, tMajor, tMinor, tPatch uint16, targetPatch bool) {
		current, err := kubever.Parse(fmt.Sprintf("v%d.%d.%d", cMajor, cMinor, cPatch))
		if err != nil {
			return
		}
		label := fmt.Sprintf("v%d.%d", tMajor, tMinor)
		if targetPatch {
			label = fmt.Sprintf("v%d.%d.%d", tMajor, tMinor, tPatch)
		}
		target, err := kubever.Parse(label)
		if err != nil {
			return
		}
		if kubever.CheckGap(current, target) != nil {
			return // refused as bad input before any plan is built
		}
		// The kubelets run the current version: a node behind the control
		// plane would rightly get a hop of its own even when the control
		// plane is already at the target (a run resumed after its
		// control-plane stage), so "no upgrade" means nothing is behind.
		kubelet := corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: kubever.Canonical(current)}}
		inv := &inventory.Inventory{Nodes: []*corev1.Node{
			{ObjectMeta: metav1.ObjectMeta{Name: "cp-1", Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}}, Status: kubelet},
			{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}, Status: kubelet},
		}}
		p := NewPlan(inv, current, target, label, nil, PlanOptions{})
		if len(p.Hops) > kubever.MaxMinorGap {
			t.Fatalf("%s to %s: %d hops, more than %d", current, label, len(p.Hops), kubever.MaxMinorGap)
		}
		upgrade := target.Major() == current.Major() && current.LessThan(target)
		if !upgrade {
			if len(p.Hops) != 0 {
				t.Fatalf("%s to %s is no upgrade, yet %d hops", current, label, len(p.Hops))
			}
			return
		}
		if len(p.Hops) == 0 {
			t.Fatalf("%s to %s: no hop", current, label)
		}
		from := current
		for i, h := range p.Hops {
			hf, err := kubever.Parse(h.From)
			if err != nil {
				t.Fatalf("hop %d from %q: %v", i, h.From, err)
			}
			ht, err := kubever.Parse(h.To)
			if err != nil {
				t.Fatalf("hop %d to %q: %v", i, h.To, err)
			}
			if hf.Major() != from.Major() || hf.Minor() != from.Minor() {
				t.Fatalf("hop %d starts at %s, not where the last ended (%s)", i, h.From, kubever.Canonical(from))
			}
			step := int(ht.Minor()) - int(hf.Minor())
			if ht.Major() != hf.Major() || step > 1 || step < 0 || (step == 0 && i != len(p.Hops)-1) {
				t.Fatalf("hop %d %s to %s is not one minor", i, h.From, h.To)
			}
			from = ht
		}
		if last := p.Hops[len(p.Hops)-1].To; last != label {
			t.Fatalf("the last hop goes to %s, not the target %s", last, label)
		}
	})
}
