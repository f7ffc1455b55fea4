package inventory

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The snapshot file's type, versioned like a Kubernetes object.
const (
	SnapshotAPIVersion = "upgate.dev/v1alpha1"
	SnapshotKind       = "Snapshot"
)

// Snapshot is the file `upgate snapshot` writes: the inventory's objects,
// each with apiVersion and kind, plus what the objects alone cannot say.
type Snapshot struct {
	APIVersion    string    `json:"apiVersion"`
	Kind          string    `json:"kind"`
	ServerVersion string    `json:"serverVersion,omitempty"`
	CollectedAt   time.Time `json:"collectedAt"`
	// Sources names where the state was read from (the API server's host).
	Sources []string `json:"sources,omitempty"`
	// Counts is how many objects of each kind were read.
	Counts             map[string]int      `json:"counts"`
	APIUsages          []APIUsage          `json:"apiUsages,omitempty"`
	DeprecatedRequests []DeprecatedRequest `json:"deprecatedRequests,omitempty"`
	Others             map[string]int      `json:"others,omitempty"`
	Items              []json.RawMessage   `json:"items"`
}

// canonical is the group version each modelled kind is written at.
var canonical = map[string]schema.GroupVersion{
	"Node": {Version: "v1"}, "Pod": {Version: "v1"}, "Namespace": {Version: "v1"}, "Service": {Version: "v1"},
	"ReplicationController": {Version: "v1"}, "PersistentVolume": {Version: "v1"}, "PersistentVolumeClaim": {Version: "v1"},
	"Deployment": {Group: "apps", Version: "v1"}, "ReplicaSet": {Group: "apps", Version: "v1"},
	"StatefulSet": {Group: "apps", Version: "v1"}, "DaemonSet": {Group: "apps", Version: "v1"},
	"Job":                            {Group: "batch", Version: "v1"},
	"PodDisruptionBudget":            {Group: "policy", Version: "v1"},
	"ValidatingWebhookConfiguration": {Group: "admissionregistration.k8s.io", Version: "v1"},
	"MutatingWebhookConfiguration":   {Group: "admissionregistration.k8s.io", Version: "v1"},
	"EndpointSlice":                  {Group: "discovery.k8s.io", Version: "v1"},
}

// Snapshot renders the inventory as a snapshot. The inventory is sorted
// first, so the same state always gives the same bytes.
func (inv *Inventory) Snapshot() (*Snapshot, error) {
	inv.Sort()
	s := &Snapshot{
		APIVersion: SnapshotAPIVersion, Kind: SnapshotKind,
		ServerVersion: inv.ServerVersion, CollectedAt: inv.CollectedAt.UTC(),
		Sources: inv.Sources, Counts: inv.Counts(),
		APIUsages: inv.APIUsages, DeprecatedRequests: inv.DeprecatedRequests, Others: inv.Others,
	}
	var err error
	add := func(kind string, objs any) {
		if err != nil {
			return
		}
		err = appendItems(s, kind, objs)
	}
	add("Namespace", inv.Namespaces)
	add("Node", inv.Nodes)
	add("Pod", inv.Pods)
	add("Service", inv.Services)
	add("Deployment", inv.Deployments)
	add("ReplicaSet", inv.ReplicaSets)
	add("StatefulSet", inv.StatefulSets)
	add("DaemonSet", inv.DaemonSets)
	add("Job", inv.Jobs)
	add("ReplicationController", inv.ReplicationControllers)
	add("PodDisruptionBudget", inv.PodDisruptionBudgets)
	add("PersistentVolume", inv.PersistentVolumes)
	add("PersistentVolumeClaim", inv.PersistentVolumeClaims)
	add("ValidatingWebhookConfiguration", inv.ValidatingWebhooks)
	add("MutatingWebhookConfiguration", inv.MutatingWebhooks)
	add("EndpointSlice", inv.EndpointSlices)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// appendItems marshals each object of a typed slice with its apiVersion and
// kind set (typed list items from client-go arrive without them).
func appendItems(s *Snapshot, kind string, objs any) error {
	raw, err := json.Marshal(objs)
	if err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	gv := canonical[kind]
	av, _ := json.Marshal(gv.String())
	k, _ := json.Marshal(kind)
	for _, it := range items {
		it["apiVersion"], it["kind"] = av, k
		b, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("encode %s: %w", kind, err)
		}
		s.Items = append(s.Items, b)
	}
	return nil
}

// WriteSnapshot writes the inventory as indented snapshot JSON.
func (inv *Inventory) WriteSnapshot(w io.Writer) error {
	s, err := inv.Snapshot()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
