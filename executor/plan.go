// Package executor plans and runs a staged cluster upgrade: the order of
// stages and nodes, and the per-node gate, cordon, drain, upgrade, wait,
// uncordon and validate steps.
package executor

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/reports"
)

// StageName names a stage of the upgrade, in the order they run.
type StageName string

const (
	StageEtcdBackup   StageName = "etcd-backup"
	StageEtcd         StageName = "etcd"
	StageControlPlane StageName = "control-plane"
	StageCloudCtrl    StageName = "cloud-controller-manager"
	StageWorkers      StageName = "workers"
	StageAddons       StageName = "addons"
)

// Stages is the contract's stage order.
var Stages = []StageName{StageEtcdBackup, StageEtcd, StageControlPlane, StageCloudCtrl, StageWorkers, StageAddons}

// Hop is one minor-version step: Kubernetes upgrades one minor at a time.
type Hop struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// PlannedNode is a node in its stage with what stops it being upgraded.
type PlannedNode struct {
	Name     string            `json:"name"`
	Roles    inventory.Roles   `json:"roles"`
	Kubelet  string            `json:"kubelet"`
	Pods     int               `json:"evictablePods"`
	Blockers []reports.Finding `json:"blockers,omitempty"`
}

// Stage is one stage and the nodes it upgrades, in order.
type Stage struct {
	Name  StageName     `json:"name"`
	Nodes []PlannedNode `json:"nodes,omitempty"`
	Note  string        `json:"note,omitempty"`
}

// Plan is the staged upgrade `upgate plan` prints and `upgate run` follows.
type Plan struct {
	APIVersion     string            `json:"apiVersion"`
	Kind           string            `json:"kind"`
	CurrentVersion string            `json:"currentVersion"`
	TargetVersion  string            `json:"targetVersion"`
	Hops           []Hop             `json:"hops"`
	Stages         []Stage           `json:"stages"`
	Blockers       []reports.Finding `json:"blockers,omitempty"`
	Blocked        bool              `json:"blocked"`
}

// NewPlan orders the cluster's nodes into stages and attaches to each node
// the blocking findings about it; findings about no node block the whole
// plan. A node with several roles is upgraded once, in its earliest stage.
func NewPlan(inv *inventory.Inventory, current, target *version.Version, targetLabel string, findings []reports.Finding) *Plan {
	p := &Plan{
		APIVersion: "upgate.dev/v1alpha1", Kind: "Plan",
		CurrentVersion: fmt.Sprintf("v%d.%d.%d", current.Major(), current.Minor(), current.Patch()),
		TargetVersion:  targetLabel,
		Hops:           Hops(current, target, targetLabel),
	}
	byNode := map[string][]reports.Finding{}
	for _, f := range findings {
		if !f.Blocking() {
			continue
		}
		if f.Node == "" {
			p.Blockers = append(p.Blockers, f)
			continue
		}
		byNode[f.Node] = append(byNode[f.Node], f)
	}
	pods := evictableByNode(inv)
	roles := inv.NodeRoles()
	stageNodes := map[StageName][]PlannedNode{}
	for _, n := range inv.Nodes {
		r := roles[n.Name]
		pn := PlannedNode{Name: n.Name, Roles: r, Kubelet: n.Status.NodeInfo.KubeletVersion, Pods: pods[n.Name], Blockers: byNode[n.Name]}
		st := StageWorkers
		switch {
		case r.Etcd:
			st = StageEtcd
		case r.ControlPlane:
			st = StageControlPlane
		}
		stageNodes[st] = append(stageNodes[st], pn)
	}
	for _, name := range Stages {
		nodes := stageNodes[name]
		// Workers with fewer pods to move go first: a failure shows early
		// and costs less. Ties, and other stages, go by name.
		sort.SliceStable(nodes, func(i, j int) bool {
			if name == StageWorkers && nodes[i].Pods != nodes[j].Pods {
				return nodes[i].Pods < nodes[j].Pods
			}
			return nodes[i].Name < nodes[j].Name
		})
		st := Stage{Name: name, Nodes: nodes}
		switch name {
		case StageEtcdBackup:
			st.Note = "snapshot etcd before anything changes"
		case StageCloudCtrl:
			st.Note = "upgrade the cloud-controller-manager before new nodes join"
		case StageAddons:
			st.Note = "kube-proxy, CoreDNS and other cluster add-ons"
		}
		p.Stages = append(p.Stages, st)
		for _, n := range nodes {
			if len(n.Blockers) > 0 {
				p.Blocked = true
			}
		}
	}
	if len(p.Blockers) > 0 {
		p.Blocked = true
	}
	return p
}

// Hops lists the minor-version steps from current to target. Each step
// but the last goes to a minor (its newest patch is the operator's choice);
// the last goes to the target as given.
func Hops(current, target *version.Version, targetLabel string) []Hop {
	var hops []Hop
	if !current.LessThan(target) || current.Major() != target.Major() {
		return hops
	}
	from := fmt.Sprintf("v%d.%d.%d", current.Major(), current.Minor(), current.Patch())
	for m := current.Minor() + 1; m < target.Minor(); m++ {
		to := fmt.Sprintf("v%d.%d", current.Major(), m)
		hops = append(hops, Hop{From: from, To: to})
		from = to
	}
	return append(hops, Hop{From: from, To: targetLabel})
}

// evictableByNode counts, per node, the pods a drain would evict.
func evictableByNode(inv *inventory.Inventory) map[string]int {
	out := map[string]int{}
	for i := range inv.Pods {
		if inventory.Evictable(&inv.Pods[i]) {
			out[inv.Pods[i].Spec.NodeName]++
		}
	}
	return out
}
