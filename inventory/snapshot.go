package inventory

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The snapshot file's type, versioned like a Kubernetes object.
//
// upgate.dev/v1alpha2 keeps less than v1alpha1 did. Pods are written
// against a table of their templates (PodTemplate): what the pods of one
// template share is written once. And it leaves out the API usages an item
// implies: every item of the snapshot was served at the version it is
// written at, so its served usage at that version (with no source, as the
// collector records it) is not written but re-created by the reader,
// except for the items NotServed lists. At 5,000 nodes those usages were
// one line per object, 6% of the file. upgate.dev/v1alpha1 snapshots,
// which write every pod whole and every usage, are still read
// (SnapshotV1alpha1).
const (
	SnapshotAPIVersion = "upgate.dev/v1alpha2"
	SnapshotKind       = "Snapshot"
	// SnapshotV1alpha1 is the first snapshot version, still read.
	SnapshotV1alpha1 = "upgate.dev/v1alpha1"
)

// isSnapshot says whether apiVersion and kind are those of a snapshot
// this reader reads.
func isSnapshot(apiVersion, kind string) bool {
	return kind == SnapshotKind && (apiVersion == SnapshotAPIVersion || apiVersion == SnapshotV1alpha1)
}

// ourGroup is the API group of upgate's own documents (snapshots, reports,
// plans, run records).
const ourGroup = "upgate.dev/"

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
	// NodeStats are the kubelet stats summaries read, when they were.
	NodeStats []NodeStat     `json:"nodeStats,omitempty"`
	Others    map[string]int `json:"others,omitempty"`
	// NotServed (v1alpha2) are the items with no served usage at the
	// version they are written at, as a usage of APIUsages would say
	// (source empty): the reader re-creates that usage for every other
	// item. One entry for each such item, in snapshot order.
	NotServed []ObjectRef `json:"notServed,omitempty"`
	// PodTemplates are what the pods of one template share; each pod item
	// names its template by index. They come before the items, so that a
	// reader has them when it meets the pods.
	PodTemplates []PodTemplate     `json:"podTemplates,omitempty"`
	Items        []json.RawMessage `json:"items"`
}

// ObjectRef names an item of a snapshot.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// canonical is the group version each modelled kind is written at (Kinds).
var canonical = func() map[string]schema.GroupVersion {
	m := make(map[string]schema.GroupVersion, len(Kinds))
	for _, k := range Kinds {
		m[k.Kind] = k.GroupVersion()
	}
	return m
}()

// Snapshot renders the inventory as a snapshot. The inventory is sorted
// first, so the same state always gives the same bytes.
func (inv *Inventory) Snapshot() (*Snapshot, error) {
	s, refs, err := inv.snapshotHead()
	if err != nil {
		return nil, err
	}
	err = inv.eachItem(refs, func(item []byte) error {
		s.Items = append(s.Items, append([]byte(nil), item...))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// snapshotHead sorts the inventory and fills everything of its snapshot
// but the items; refs are the pods' templates (PodTemplates).
func (inv *Inventory) snapshotHead() (*Snapshot, []int, error) {
	inv.Sort()
	templates, refs, err := podTemplates(inv.Pods)
	if err != nil {
		return nil, nil, err
	}
	usages, notServed := inv.impliedUsages()
	return &Snapshot{
		APIVersion: SnapshotAPIVersion, Kind: SnapshotKind,
		ServerVersion: inv.ServerVersion, CollectedAt: inv.CollectedAt.UTC(),
		Sources: inv.Sources, Counts: inv.Counts(),
		APIUsages: usages, DeprecatedRequests: inv.DeprecatedRequests, NodeStats: inv.NodeStats, Others: inv.Others,
		NotServed: notServed, PodTemplates: templates,
	}, refs, nil
}

// impliedUsages splits the sorted inventory's usages for a snapshot: it
// returns those the snapshot writes, without each object's served usage
// at the version its kind is written at (with no source), and the objects
// that have no such usage. Objects and usages are both in the inventory's
// order (kind, then namespace and name), so one walk of each kind's
// objects beside its usages pairs them; an object listed twice pairs with
// two usages.
func (inv *Inventory) impliedUsages() ([]APIUsage, []ObjectRef) {
	us := inv.APIUsages
	implied := make([]bool, len(us))
	found := 0
	var notServed []ObjectRef
	for _, k := range Kinds {
		lo, _ := slices.BinarySearchFunc(us, k.Kind, func(u APIUsage, kind string) int { return strings.Compare(u.Kind, kind) })
		hi := lo
		for hi < len(us) && us[hi].Kind == k.Kind {
			hi++
		}
		version, j := k.APIVersion(), lo
		k.Each(inv, func(obj any) {
			m := obj.(metav1.Object)
			ns, name := m.GetNamespace(), m.GetName()
			for j < hi && (us[j].Namespace < ns || (us[j].Namespace == ns && us[j].Name < name)) {
				j++
			}
			for i := j; i < hi && us[i].Namespace == ns && us[i].Name == name; i++ {
				if u := &us[i]; !implied[i] && u.APIVersion == version && u.Via == ViaServed && u.Source == "" {
					implied[i] = true
					found++
					return
				}
			}
			notServed = append(notServed, ObjectRef{Kind: k.Kind, Namespace: ns, Name: name})
		})
	}
	if found == 0 {
		return us, notServed
	}
	written := make([]APIUsage, 0, len(us)-found)
	for i, u := range us {
		if !implied[i] {
			written = append(written, u)
		}
	}
	return written, notServed
}

// eachItem encodes every object, kind by kind in snapshot order, each once,
// with its apiVersion and kind set (typed list items from client-go arrive
// without them), and hands the bytes to fn in that order; they are only
// valid during the call. Batches of objects are encoded on GOMAXPROCS
// goroutines while fn consumes the previous ones.
func (inv *Inventory) eachItem(podRefs []int, fn func([]byte) error) error {
	type batch struct {
		items [][]byte
		err   error
		done  chan struct{}
	}
	var (
		inflight []*batch
		err      error
	)
	limit := max(runtime.GOMAXPROCS(0), 1)
	drain := func() {
		b := inflight[0]
		inflight = inflight[1:]
		<-b.done
		if err == nil {
			err = b.err
		}
		for _, it := range b.items {
			if err != nil {
				return
			}
			err = fn(it)
		}
	}
	add := func(k KindInfo, n int, obj func(int) any) {
		kind := k.Kind
		prefix := fmt.Sprintf(`{"apiVersion":%q,"kind":%q`, canonical[kind].String(), kind)
		for lo := 0; lo < n && err == nil; lo += snapshotBatch {
			b := &batch{done: make(chan struct{})}
			go func(lo, hi int) {
				defer close(b.done)
				for i := lo; i < hi; i++ {
					raw, err := json.Marshal(k.written(obj(i)))
					if err != nil {
						b.err = fmt.Errorf("encode %s: %w", kind, err)
						return
					}
					// A typed object's TypeMeta is either empty (omitted)
					// or what we write anyway: drop it and put ours first.
					rest := stripTypeMeta(raw[1:])
					item := make([]byte, 0, len(prefix)+1+len(rest))
					item = append(item, prefix...)
					if len(rest) > 1 {
						item = append(item, ',')
					}
					b.items = append(b.items, append(item, rest...))
				}
			}(lo, min(lo+snapshotBatch, n))
			inflight = append(inflight, b)
			for len(inflight) > limit {
				drain()
			}
		}
	}
	for _, k := range Kinds {
		n, at := k.items(inv)
		if k.Kind == "Pod" {
			// A pod is written as what is its own and its template's index.
			at = func(i int) any { return templatedPod{inv.Pods[i], podRefs[i]} }
		}
		add(k, n, at)
	}
	for len(inflight) > 0 {
		drain()
	}
	return err
}

// written is what a snapshot encodes for obj: what its kind keeps of it,
// in the kind's small form (wire.go); a pod as it is.
func (k KindInfo) written(obj any) any {
	if k.keep == nil {
		return obj
	}
	return k.write(k.keep(obj))
}

// snapshotBatch is how many objects one goroutine encodes at a time.
const snapshotBatch = 256

// stripTypeMeta drops a leading "kind" and "apiVersion" from an object's
// encoding after its opening brace (encoding/json writes an inline
// metav1.TypeMeta first, kind before apiVersion), returning the rest with
// its closing brace.
func stripTypeMeta(rest []byte) []byte {
	for _, key := range []string{`"kind":`, `"apiVersion":`} {
		if !bytes.HasPrefix(rest, []byte(key)) {
			continue
		}
		v := rest[len(key):]
		if len(v) == 0 || v[0] != '"' {
			return rest
		}
		end := bytes.IndexByte(v[1:], '"')
		if end < 0 || bytes.IndexByte(v[1:end+1], '\\') >= 0 {
			return rest
		}
		v = v[end+2:]
		if len(v) > 0 && v[0] == ',' {
			v = v[1:]
		}
		rest = v
	}
	return rest
}

// WriteSnapshot writes the inventory as snapshot JSON: compact, one item
// per line, streamed (the whole file is never held in memory).
func (inv *Inventory) WriteSnapshot(w io.Writer) error {
	s, refs, err := inv.snapshotHead()
	if err != nil {
		return err
	}
	head, err := json.Marshal(s)
	if err != nil {
		return err
	}
	// Items is the last field and never omitted: splice the items in
	// where the encoding of the empty list ends.
	const tail = `"items":null}`
	if !bytes.HasSuffix(head, []byte(tail)) {
		return fmt.Errorf("encode snapshot: unexpected encoding of its head")
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	bw.Write(head[:len(head)-len(tail)])
	bw.WriteString(`"items":[`)
	first := true
	err = inv.eachItem(refs, func(item []byte) error {
		if !first {
			bw.WriteByte(',')
		}
		first = false
		bw.WriteByte('\n')
		_, err := bw.Write(item)
		return err
	})
	if err != nil {
		return err
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

// SnapshotDigest is the sha256 of the snapshot WriteSnapshot writes,
// "sha256:<hex>", computed without holding the snapshot.
func (inv *Inventory) SnapshotDigest() (string, error) {
	h := sha256.New()
	if err := inv.WriteSnapshot(h); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
