// Package inventory is upgate's model of a cluster's state: the objects the
// checks read, where they came from, and the API versions they were seen at.
// It is filled either by the live collector or by reading snapshots and plain
// manifests (Read), so every check sees the same shape whatever the source.
package inventory

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// Inventory holds the cluster state one check run evaluates. Its lists
// hold pointers: a run's successive states share every object that did
// not change (the watch caches' own), so reading the state again costs a
// pass over pointers, not a copy of 150,000 pods. Objects in an inventory
// are never changed in place; a changed object is a new one.
type Inventory struct {
	// ServerVersion is the API server's gitVersion as recorded by a snapshot
	// or the live /version endpoint; empty when the input did not say.
	ServerVersion string
	// CollectedAt is when a snapshot was taken; zero for plain manifests.
	CollectedAt time.Time
	// Sources names what was read: files, or the cluster's server address.
	Sources []string
	// InputDigest is "sha256:<hex>" of the files read (Read sets it; the
	// sha256 of the file itself when there was one); empty for live state.
	InputDigest string

	Nodes []*corev1.Node
	// Pods are kept as the model's own Pod (pod.go), not as API objects.
	Pods                   []*Pod
	Namespaces             []*corev1.Namespace
	Services               []*corev1.Service
	Deployments            []*appsv1.Deployment
	ReplicaSets            []*appsv1.ReplicaSet
	StatefulSets           []*appsv1.StatefulSet
	DaemonSets             []*appsv1.DaemonSet
	Jobs                   []*batchv1.Job
	ReplicationControllers []*corev1.ReplicationController
	PodDisruptionBudgets   []*policyv1.PodDisruptionBudget
	PersistentVolumes      []*corev1.PersistentVolume
	PersistentVolumeClaims []*corev1.PersistentVolumeClaim
	ValidatingWebhooks     []*admissionregistrationv1.ValidatingWebhookConfiguration
	MutatingWebhooks       []*admissionregistrationv1.MutatingWebhookConfiguration
	EndpointSlices         []*discoveryv1.EndpointSlice

	// APIUsages records each API version an object was seen using, for the
	// removed/deprecated API checks (the objects above are decoded at one
	// version whatever version they came in at).
	APIUsages []APIUsage
	// DeprecatedRequests are the API server's own record of requests made
	// to deprecated APIs (apiserver_requested_deprecated_apis).
	DeprecatedRequests []DeprecatedRequest
	// NodeStats are what each node's kubelet stats summary said about its
	// root filesystem, or why it could not be read; empty when they were
	// not asked for (the collector reads them only when told to: they need
	// get on nodes/proxy, which the read-only checker has not).
	NodeStats []NodeStat
	// Others counts objects of kinds no check reads, by kind; only their
	// API versions are kept.
	Others map[string]int
	// RoleSelectors, when set from the config, override how NodeRoles
	// derives roles. They are settings, not state: snapshots omit them.
	RoleSelectors RoleSelectors
}

// UsageVia says how an object was seen using an API version.
type UsageVia string

const (
	// ViaServed: the object was returned or written at that version.
	ViaServed UsageVia = "served"
	// ViaLastApplied: kubectl.kubernetes.io/last-applied-configuration names it.
	ViaLastApplied UsageVia = "last-applied-configuration"
	// ViaManagedFields: a managedFields entry records it.
	ViaManagedFields UsageVia = "managedFields"
)

// APIUsage is one object seen at one apiVersion.
type APIUsage struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Name       string   `json:"name"`
	Via        UsageVia `json:"via"`
	// Source is the file the object was read from, when there was one.
	Source string `json:"source,omitempty"`
}

// DeprecatedRequest is one series of apiserver_requested_deprecated_apis.
type DeprecatedRequest struct {
	Group          string `json:"group"`
	Version        string `json:"version"`
	Resource       string `json:"resource"`
	Subresource    string `json:"subresource,omitempty"`
	RemovedRelease string `json:"removedRelease,omitempty"`
}

// NodeStat is one node's root filesystem as its kubelet's stats summary
// (GET /api/v1/nodes/NAME/proxy/stats/summary, node.fs) reported it, or
// why the summary could not be read.
type NodeStat struct {
	Node string `json:"node"`
	// AvailableBytes and CapacityBytes are node.fs.availableBytes and
	// node.fs.capacityBytes; nil when the summary was not read or left
	// them out.
	AvailableBytes *uint64 `json:"availableBytes,omitempty"`
	CapacityBytes  *uint64 `json:"capacityBytes,omitempty"`
	// Error says why the summary gave no available bytes (forbidden, not
	// served, timed out, not JSON); empty when it did.
	Error string `json:"error,omitempty"`
}

// Read reports whether the summary gave the node's available bytes.
func (s NodeStat) Read() bool { return s.AvailableBytes != nil && s.Error == "" }

// Counts returns how many objects of each kind the inventory holds, the
// "computed from" part of a report.
func (inv *Inventory) Counts() map[string]int {
	c := make(map[string]int, len(Kinds)+len(inv.Others))
	for _, k := range Kinds {
		c[k.Kind], _ = k.items(inv)
	}
	for k, n := range inv.Others {
		c[k] += n
	}
	return c
}

// grow makes room in each kind's list, and for the API usages, for the
// objects a snapshot's counts announce: a 5,000-node snapshot's 336,000
// objects are then appended without the lists being copied as they grow.
// Counts are a hint: wrong or huge ones are not trusted beyond a bound.
func (inv *Inventory) grow(counts map[string]int) {
	const most = 1 << 21
	total := 0
	for _, k := range Kinds {
		if n := counts[k.Kind]; n > 0 && n <= most {
			k.grow(inv, n)
			total += n
		}
	}
	inv.APIUsages = slices.Grow(inv.APIUsages, min(total, most))
}

// Sort orders every list by namespace and name (API usages also by version
// and source), so the same state always yields the same snapshot and report
// bytes whatever order files or list pages arrived in.
func (inv *Inventory) Sort() {
	for _, k := range Kinds {
		k.sort(inv)
	}
	// The watched state hands usages over in order: check before sorting.
	if !slices.IsSortedFunc(inv.APIUsages, compareUsages) {
		slices.SortStableFunc(inv.APIUsages, compareUsages)
	}
	sort.SliceStable(inv.DeprecatedRequests, func(i, j int) bool {
		a, b := inv.DeprecatedRequests[i], inv.DeprecatedRequests[j]
		return a.Group+"/"+a.Version+"/"+a.Resource+"/"+a.Subresource < b.Group+"/"+b.Version+"/"+b.Resource+"/"+b.Subresource
	})
	sort.SliceStable(inv.NodeStats, func(i, j int) bool { return inv.NodeStats[i].Node < inv.NodeStats[j].Node })
	sort.Strings(inv.Sources)
}

// compareUsages orders usages by kind, namespace, name, version, how
// seen and source.
func compareUsages(a, b APIUsage) int {
	if c := strings.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return cmp.Or(
		strings.Compare(a.APIVersion, b.APIVersion),
		strings.Compare(string(a.Via), string(b.Via)),
		strings.Compare(a.Source, b.Source),
	)
}

// SortObjects sorts objects stably by namespace and name, the
// inventory's order. Already sorted objects are not moved (a run's watched
// state hands them over in order).
func SortObjects[T interface {
	GetNamespace() string
	GetName() string
}](items []T) {
	SortByMeta(items, func(o T) (string, string) { return o.GetNamespace(), o.GetName() })
}

// SortByMeta sorts items stably by key (namespace, name), the
// inventory's order, reading each key once.
func SortByMeta[T any](items []T, key func(T) (string, string)) {
	sorted := true
	for i := 1; i < len(items) && sorted; i++ {
		ans, aname := key(items[i-1])
		bns, bname := key(items[i])
		sorted = ans < bns || (ans == bns && aname <= bname)
	}
	if sorted {
		return
	}
	type ref struct {
		ns, name string
		i        int
	}
	cmpRef := func(a, b ref) int {
		if c := strings.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return a.i - b.i // stable
	}
	refs := make([]ref, len(items))
	for i := range items {
		ns, name := key(items[i])
		refs[i] = ref{ns, name, i}
	}
	slices.SortFunc(refs, cmpRef)
	out := make([]T, len(items))
	for j, r := range refs {
		out[j] = items[r.i]
	}
	copy(items, out)
}
