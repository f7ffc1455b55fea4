// Package executor plans and runs a staged cluster upgrade: the minor
// version hops, the order of stages and nodes in each, and the per-node
// gate, cordon, drain, upgrade, wait, uncordon and validate steps.
package executor

import (
	"encoding/json"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// StageName names a stage of the upgrade, in the order they run.
type StageName string

const (
	StageImages       StageName = "images"
	StageEtcdBackup   StageName = "etcd-backup"
	StageEtcd         StageName = "etcd"
	StageControlPlane StageName = "control-plane"
	StageCloudCtrl    StageName = "cloud-controller-manager"
	StageWorkers      StageName = "workers"
	StageAddons       StageName = "addons"
)

// Stages is the contract's stage order. The images stage (pre-pulling
// images) has nothing to do with the built-in drivers and is left out of
// plans, as the contract allows for a stage with nothing to do.
var Stages = []StageName{StageEtcdBackup, StageEtcd, StageControlPlane, StageCloudCtrl, StageWorkers, StageAddons}

// Hop is one minor-version step of the control plane (Kubernetes upgrades
// one minor at a time) with the stages it runs and the nodes upgraded in it.
type Hop struct {
	From   string  `json:"from"`
	To     string  `json:"to"`
	Note   string  `json:"note,omitempty"`
	Stages []Stage `json:"stages"`
}

// PlannedNode is a node in its stage with what stops it being upgraded.
type PlannedNode struct {
	Name    string
	Roles   inventory.Roles
	Kubelet string
	// From is the kubelet version the node is expected at when its hop
	// starts: its kubelet now, or the version an earlier hop takes it to.
	From string
	Pods int
	// Skip: --partial-ok skips this flagged worker.
	Skip bool
	// Blockers are the blocking findings about the node.
	Blockers []finding.Finding
}

// MarshalJSON writes the contract's node: roles as names, blockers as
// check IDs (the findings themselves are the plan's findings).
func (n PlannedNode) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name     string   `json:"name"`
		Roles    []string `json:"roles"`
		Kubelet  string   `json:"kubelet"`
		From     string   `json:"from,omitempty"`
		Pods     int      `json:"evictablePods"`
		Skip     bool     `json:"skip"`
		Blockers []string `json:"blockers"`
	}{n.Name, RoleNames(n.Roles), n.Kubelet, n.From, n.Pods, n.Skip, blockerIDs(n.Blockers)})
}

// RoleNames lists a node's roles by their contract names, sorted.
func RoleNames(r inventory.Roles) []string {
	out := []string{}
	for _, x := range []struct {
		on   bool
		name string
	}{{r.ControlPlane, "control-plane"}, {r.Etcd, "etcd"}, {r.Ingress, "ingress"}, {r.Storage, "storage"}, {r.Worker, "worker"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	return out
}

func blockerIDs(fs []finding.Finding) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, f := range fs {
		if !seen[f.Check] {
			seen[f.Check] = true
			out = append(out, f.Check)
		}
	}
	sort.Strings(out)
	return out
}

// Stage is one stage and the nodes it upgrades, in order.
type Stage struct {
	Name  StageName     `json:"name"`
	Nodes []PlannedNode `json:"nodes,omitempty"`
	Note  string        `json:"note,omitempty"`
}

// Verdicts of a plan, as a report's.
const (
	VerdictPassed  = "passed"
	VerdictBlocked = "blocked"
)

// Plan is the staged upgrade `upgate plan` prints and `upgate run` follows:
// the contract's Plan report.
type Plan struct {
	APIVersion     string `json:"apiVersion"`
	Kind           string `json:"kind"`
	CurrentVersion string `json:"currentVersion"`
	TargetVersion  string `json:"targetVersion"`
	// Verdict is blocked when the run may not start: a blocker about no
	// node, or a flagged node that --partial-ok may not skip.
	Verdict string `json:"verdict"`
	// Hops are the steps to the target, each with the nodes it upgrades.
	Hops []Hop `json:"hops"`
	// Findings are every finding the plan was judged on, sorted.
	Findings []finding.Finding `json:"findings"`
	// Blockers are the blocking findings about no node.
	Blockers []finding.Finding `json:"blockers,omitempty"`
	// Blocked is Verdict == blocked.
	Blocked bool `json:"blocked"`
	// PartialOK: the plan skips flagged workers (--partial-ok).
	PartialOK bool `json:"partialOK,omitempty"`

	// Stages hold every node once, in its earliest stage, whatever hops
	// it is upgraded in: the roster the hops are drawn from.
	Stages []Stage `json:"-"`
}

// PlanOptions shape NewPlan.
type PlanOptions struct {
	// Rules are the release facts hops are planned from.
	Rules HopRules
	// PartialOK skips flagged workers instead of blocking the plan.
	PartialOK bool
}

// NewPlan orders the cluster's nodes into hops and stages and attaches to
// each node the blocking findings about it; findings about no node block
// the whole plan. A node with several roles is upgraded once per hop, in
// its earliest stage. The hops start from the older of current and the
// oldest kube-apiserver the inventory shows: a run that stopped half-way
// through a hop continues that hop.
func NewPlan(inv *inventory.Inventory, current, target *version.Version, targetLabel string, findings []finding.Finding, opts PlanOptions) *Plan {
	if old := oldestAPIServer(inv); old != nil && old.LessThan(current) {
		current = old
	}
	p := &Plan{
		APIVersion: "upgate.dev/v1alpha1", Kind: "Plan",
		CurrentVersion: kubever.Canonical(current),
		TargetVersion:  targetLabel,
		Findings:       append([]finding.Finding{}, findings...),
		PartialOK:      opts.PartialOK,
	}
	finding.Sort(p.Findings)
	byNode := map[string][]finding.Finding{}
	for _, f := range p.Findings {
		if !f.Blocking() {
			continue
		}
		if f.Node == "" {
			p.Blockers = append(p.Blockers, f)
			continue
		}
		byNode[f.Node] = append(byNode[f.Node], f)
	}
	t := Target{Label: targetLabel, Version: target, HasPatch: kubever.HasPatch(targetLabel)}
	pods := inventory.EvictableByNode(inv)
	roles := inv.NodeRoles()
	stageNodes := map[StageName][]PlannedNode{}
	inflight := map[string]string{}
	for _, n := range inv.Nodes {
		r := roles[n.Name]
		pn := PlannedNode{Name: n.Name, Roles: r, Kubelet: n.Status.NodeInfo.KubeletVersion, Pods: pods[n.Name], Blockers: byNode[n.Name]}
		if pr := ReadProgress(n); t.Reached(pn.Kubelet) && (!pr.InFlight() || pr.Phase == PhaseUpgraded) {
			// Already at the target, and either not in flight or past its
			// driver (phase upgraded resumes at the wait for Ready, with no
			// gate and no drain): the run will not drain it, so what would
			// block its drain blocks nothing. (A node whose upgrade a
			// stopped run left half-done is not flagged for being newer
			// than the other API servers in the first place: Underway.)
			pn.Blockers = nil
		}
		st := StageWorkers
		switch {
		case r.Etcd:
			st = StageEtcd
		case r.ControlPlane:
			st = StageControlPlane
		}
		if st == StageWorkers && opts.PartialOK && len(pn.Blockers) > 0 {
			pn.Skip = true
		}
		stageNodes[st] = append(stageNodes[st], pn)
		if pr := ReadProgress(n); pr.InFlight() {
			inflight[n.Name] = pr.Target
		}
	}
	for _, name := range Stages {
		nodes := stageNodes[name]
		inventory.SortUpgradeOrder(nodes, func(n PlannedNode) string { return n.Name }, name == StageWorkers,
			func(n PlannedNode) int { return n.Pods })
		p.Stages = append(p.Stages, Stage{Name: name, Nodes: nodes, Note: stageNote(name)})
	}
	p.Hops = scheduleHops(p.Stages, current, t, opts.Rules, inflight)
	ccm := ccmOf(inv)
	for i := range p.Hops {
		for j := range p.Hops[i].Stages {
			if st := &p.Hops[i].Stages[j]; st.Name == StageCloudCtrl {
				st.Note = ccmNote(ccm, p.Hops[i].To)
			}
		}
	}
	p.Blocked = Gated(p, opts.PartialOK)
	p.Verdict = VerdictPassed
	if p.Blocked {
		p.Verdict = VerdictBlocked
	}
	return p
}

func stageNote(name StageName) string {
	switch name {
	case StageEtcdBackup:
		return "snapshot etcd before anything changes"
	case StageCloudCtrl:
		return "upgrade the cloud-controller-manager before new nodes join"
	case StageAddons:
		return "kube-proxy, CoreDNS and other cluster add-ons"
	}
	return ""
}

// ccmOf lists the inventory's cloud-controller-manager pods as the run's
// stage reads them.
func ccmOf(inv *inventory.Inventory) []ccmPod {
	var out []ccmPod
	for _, c := range inv.Components() {
		if c.Name == inventory.ComponentCloudController {
			tag, _, _ := kubever.FromImage(c.Raw)
			out = append(out, ccmPod{name: c.Pod, tag: tag, version: c.Version})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// ccmNote says what a hop's cloud-controller-manager stage will do.
func ccmNote(pods []ccmPod, to string) string {
	t, err := ParseTarget(to)
	switch {
	case len(pods) == 0:
		return "no cloud-controller-manager in kube-system (no pod labelled " + CloudControllerSelector + "): nothing to do"
	case err != nil:
		return stageNote(StageCloudCtrl)
	case len(ccmBehind(pods, t)) == 0:
		return "the cloud-controller-manager is at or past " + t.Label + ": nothing to do"
	}
	return fmt.Sprintf("upgrade %s to %s through the driver; no worker starts while addon.ccm-behind-target fires", describePods(ccmBehind(pods, t)), t.Label)
}

// Hops lists the minor-version steps from current to target. Each step
// but the last goes to the newest patch of its minor that latest (the
// release data, keyed "1.36") knows, else to its .0; the last goes to the
// target as given. None when the target is not ahead of current.
func Hops(current, target *version.Version, targetLabel string, latest map[string]int) []Hop {
	var hops []Hop
	if !current.LessThan(target) || current.Major() != target.Major() {
		return hops
	}
	from := kubever.Canonical(current)
	for m := current.Minor() + 1; m < target.Minor(); m++ {
		to := fmt.Sprintf("v%d.%d.%d", current.Major(), m, latest[fmt.Sprintf("%d.%d", current.Major(), m)])
		hops = append(hops, Hop{From: from, To: to})
		from = to
	}
	return append(hops, Hop{From: from, To: targetLabel})
}

// oldestAPIServer is the oldest kube-apiserver image tag in the inventory.
func oldestAPIServer(inv *inventory.Inventory) *version.Version {
	var oldest *version.Version
	for _, c := range inv.Components() {
		if c.Name == inventory.ComponentAPIServer && c.Known() && (oldest == nil || c.Version.LessThan(oldest)) {
			oldest = c.Version
		}
	}
	return oldest
}
