package executor

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/upgate-dev/upgate/kubever"
)

// AnnotationRunTarget is the target of the run that upgrades the node, as
// the user gave it; upgate.dev/target is the version of the hop it is in.
const AnnotationRunTarget = "upgate.dev/run-target"

// runHop runs one hop: etcd backup, nodes in flight, etcd and control-plane
// nodes one at a time, then a wait until the control plane reports the
// hop's version, the cloud-controller-manager stage (see
// runCloudController), workers MaxUnavailable at a time, and add-ons.
// Every node, and the cloud-controller-manager, is taken to the hop's
// version ht.
func (r *Runner) runHop(ctx context.Context, ref HopRef, h Hop, ht, final Target, last bool, res *Result) error {
	r.printf("== %s ==\n", ref)
	live, err := r.liveNodes(ctx)
	if err != nil {
		return err
	}
	r.rollout.seen(live)
	decisions := map[string]Decision{}
	var conflicts []string
	for _, st := range h.Stages {
		for _, n := range st.Nodes {
			ln, ok := live[n.Name]
			if !ok {
				return fmt.Errorf("node %s of the plan is gone from the cluster", n.Name)
			}
			d := Decide(ln, ht)
			if kv := ln.Status.NodeInfo.KubeletVersion; d.Action == ActionUpgrade {
				// Never take a node back: one past this hop skips it.
				if k, err := kubever.Parse(kv); err == nil && atOrPast(k, ht) {
					d = Decision{Action: ActionAtTarget, Why: "kubelet " + kv + " already at or past " + ht.Label}
				}
			}
			decisions[n.Name] = d
			if d.Action == ActionRefuse {
				conflicts = append(conflicts, d.Why)
			}
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return fmt.Errorf("%w: %s", ErrTargetConflict, conflicts[0])
	}
	order := orderStages(h.Stages, decisions)
	work := false
	for i := range order {
		order[i].runTarget = final.Label
		if a := order[i].decision.Action; a == ActionUpgrade || a == ActionResume {
			work = true
		}
	}
	if work {
		if err := r.refuseMinorSkip(ctx, ref, ht, order, live); err != nil {
			return err
		}
	}
	if r.DryRun {
		if work && r.Snapshotter != nil {
			r.printf("[%s] %s: would take an etcd snapshot: %s\n", ref, StageEtcdBackup, r.Snapshotter)
		}
		// In the order the run goes: nodes in flight, etcd and
		// control-plane nodes, the cloud-controller-manager, workers.
		dry := func(s step) {
			r.printf("[%s] %s %s: %s to %s %s\n", ref, s.stage, s.planned.Name, s.decision.Action, ht.Label, s.decision.Why)
		}
		for _, s := range order {
			if s.stage != StageWorkers || s.decision.Action == ActionResume {
				dry(s)
			}
		}
		r.dryRunCloudController(ctx, ref, ht)
		for _, s := range order {
			if s.stage == StageWorkers && s.decision.Action != ActionResume {
				dry(s)
			}
		}
		return nil
	}
	for _, s := range order {
		if s.decision.Action == ActionResume {
			r.printf("Resuming %s first: %s (hop to %s).\n", s.planned.Name, s.decision.Why, ht.Label)
		}
	}

	// Etcd backup: before anything in the hop changes, whenever it has work.
	if work {
		r.enterStage(ht, StageEtcdBackup)
		if err := r.alertGate(ctx, fmt.Sprintf("%s: %s", ref, StageEtcdBackup), "", final.Label); err != nil {
			return err
		}
		if err := r.backupEtcd(ctx, ref, ht, res); err != nil {
			return err
		}
		r.progressed()
	} else {
		r.printf("[%s] skipped: no node needs upgrading in %s\n", StageEtcdBackup, ref)
	}

	// In-flight nodes, then etcd and control-plane nodes, one at a time;
	// then, once the control plane reports the hop's version, workers
	// MaxUnavailable at a time.
	from := len(res.Outcomes)
	defer func() {
		for i := from; i < len(res.Outcomes); i++ {
			res.Outcomes[i].Hop = ht.Label
		}
	}()
	var workers []step
	for _, s := range order {
		if s.stage == StageWorkers && s.decision.Action != ActionResume {
			workers = append(workers, s)
			continue
		}
		o, err := r.runStep(ctx, s, ht)
		res.Outcomes = append(res.Outcomes, o)
		if err != nil {
			return err
		}
	}
	if err := r.waitControlPlane(ctx, ref, ht); err != nil {
		return err
	}
	r.progressed()
	// The cloud-controller-manager moves before any node at the hop's
	// version joins, and no worker starts while it is behind.
	if err := r.alertGate(ctx, fmt.Sprintf("%s: %s", ref, StageCloudCtrl), "", final.Label); err != nil {
		return err
	}
	if err := r.runCloudController(ctx, ref, ht, res); err != nil {
		return err
	}
	r.progressed()
	before := len(res.Outcomes)
	if err := r.runWorkers(ctx, workers, ht, res); err != nil {
		return err
	}
	if !last {
		// A worker this hop moves would be outside the kubelet skew window
		// of the next hop's control plane if it stayed behind.
		for _, o := range res.Outcomes[before:] {
			if o.Result == "skipped" && !o.leftBehind && (o.Action == ActionUpgrade || o.Action == ActionResume) {
				return fmt.Errorf("%w: %s: worker %s was skipped (--partial-ok), but it must reach %s before the control plane moves on, or its kubelet would be outside the skew policy; the next hop did not start",
					ErrBlocked, ref, o.Node, ht.Label)
			}
		}
		if err := leftBehindMidway(ref, ht, res.Outcomes[before:]); err != nil {
			return err
		}
	}
	r.enterStage(ht, StageAddons)
	if au, ok := r.Driver.(AddonUpgrader); ok {
		if err := r.alertGate(ctx, fmt.Sprintf("%s: %s", ref, StageAddons), "", final.Label); err != nil {
			return err
		}
		err := r.callDriver(ctx, StageAddons, func(ctx context.Context) error { return au.UpgradeAddons(ctx, ht.Label) })
		if serr := r.stopped(ctx); err != nil && serr != nil {
			return fmt.Errorf("%w: %s: before the add-on stage finished: %v", serr, ref, err)
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrAddonsFailed, ref, err)
		}
		r.progressed()
		return nil
	}
	r.printf("[%s] %s\n", StageAddons, "not handled by the node driver: upgrade kube-proxy, CoreDNS and other add-ons to match "+ht.Label+" with your add-on tooling")
	return nil
}

// refuseMinorSkip stops the hop before it touches anything when it would
// take the control plane, or an etcd or control-plane node's components,
// more than one minor at once: the plan was made from other versions than
// the cluster now has.
func (r *Runner) refuseMinorSkip(ctx context.Context, ref HopRef, ht Target, order []step, live map[string]*corev1.Node) error {
	cpv, from, err := ControlPlaneVersion(ctx, r.Client)
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	if minorsAhead(ht.Version, cpv) > 1 {
		return fmt.Errorf("%w: path.minor-skip: %s: the control plane is at %s (%s); going to %s would skip a minor: run `upgate plan` again for the hops from here",
			ErrBlocked, ref, kubever.Canonical(cpv), from, ht.Label)
	}
	for _, s := range order {
		if s.stage == StageWorkers || (s.decision.Action != ActionUpgrade && s.decision.Action != ActionResume) {
			continue
		}
		nv, err := nodeControlPlaneVersion(ctx, r.Client, live[s.planned.Name])
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		if minorsAhead(ht.Version, nv) > 1 {
			return fmt.Errorf("%w: path.minor-skip: %s: %s node %s runs %s; going to %s would skip a minor: run `upgate plan` again for the hops from here",
				ErrBlocked, ref, s.stage, s.planned.Name, kubever.Canonical(nv), ht.Label)
		}
	}
	return nil
}

// liveNodes lists the cluster's nodes by name.
func (r *Runner) liveNodes(ctx context.Context) (map[string]*corev1.Node, error) {
	nodes, err := r.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	live := map[string]*corev1.Node{}
	for i := range nodes.Items {
		live[nodes.Items[i].Name] = &nodes.Items[i]
	}
	return live, nil
}

// planNodes names every node of the plan: its roster and its hops.
func planNodes(p *Plan, hops []Hop) []string {
	seen := map[string]bool{}
	var out []string
	add := func(stages []Stage) {
		for _, st := range stages {
			for _, n := range st.Nodes {
				if !seen[n.Name] {
					seen[n.Name] = true
					out = append(out, n.Name)
				}
			}
		}
	}
	add(p.Stages)
	for _, h := range hops {
		add(h.Stages)
	}
	sort.Strings(out)
	return out
}

// hopTo is the index of the hop going to version label, or -1.
func hopTo(hops []Hop, label string) int {
	for i, h := range hops {
		if t, err := ParseTarget(h.To); err == nil && t.Same(label) {
			return i
		}
	}
	return -1
}
