package inventory

import (
	"encoding/json"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// LastAppliedAnnotation is kubectl's record of the manifest last applied.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// item is one decoded object, ready to be committed to an inventory in
// input order: decoding runs on several goroutines (see pipeline), commits
// on one.
type item struct {
	// add appends the typed object; nil for kinds no check reads.
	add func(*Inventory)
	// other is the kind to count in Others when add is nil.
	other  string
	usages []APIUsage
	err    error
}

func (it *item) commit(inv *Inventory) {
	if it.add != nil {
		it.add(inv)
	} else {
		if inv.Others == nil {
			inv.Others = map[string]int{}
		}
		inv.Others[it.other]++
	}
	inv.APIUsages = append(inv.APIUsages, it.usages...)
}

// recording says which API usages decoding an object records.
type recording int

const (
	// recordNone: a v1alpha1 snapshot's items, whose usages its head holds.
	recordNone recording = iota
	// recordAll: manifests and lists, every usage (usagesOf).
	recordAll
	// recordServed: a v1alpha2 snapshot's items, the served usage at the
	// item's own version its head leaves out (snapshot.go).
	recordServed
)

// usages lists the usages r records of an object of a known kind.
func (r recording) usages(source, apiVersion, kind string, meta *metav1.ObjectMeta) []APIUsage {
	switch r {
	case recordAll:
		return usagesOf(source, apiVersion, kind, meta)
	case recordServed:
		return []APIUsage{{APIVersion: apiVersion, Kind: kind, Namespace: meta.Namespace, Name: meta.Name, Via: ViaServed}}
	}
	return nil
}

// decodeItem decodes one Kubernetes object into its typed value and
// records the API versions it uses. Kinds no check reads are counted and
// their API versions recorded (a removed Ingress version matters even
// though no Ingress field does), but their content is dropped.
// def supplies apiVersion and kind for items of a typed list (a PodList's
// items carry neither). It touches no shared state: it may run on any
// goroutine.
//
// The object is decoded once, straight into its typed value, when its kind
// is known up front: from a leading apiVersion and kind (as the API
// server, kubectl and upgate snapshots write them) or from def. Otherwise,
// or when that fails, its metadata is decoded first, then the object.
func decodeItem(source string, raw []byte, record recording, def typeMeta, tt templateTable) item {
	kind := peekKind(raw)
	if kind == "" {
		kind = def.Kind
	}
	if dec, known := decoderOf(kind, tt); known {
		if t, err := dec(raw); err == nil && (t.tm.Kind == kind || (t.tm.Kind == "" && t.tm.APIVersion == "")) {
			apiVersion := t.tm.APIVersion
			if t.tm.Kind == "" {
				apiVersion = def.APIVersion
			}
			if apiVersion == "" {
				return item{err: errors.New("object has no apiVersion or kind")}
			}
			if t.meta.Name == "" && t.meta.GenerateName == "" {
				return item{err: fmt.Errorf("%s has no metadata.name", kind)}
			}
			it := item{add: t.add, usages: record.usages(source, apiVersion, kind, &t.meta)}
			Scrub(t.obj)
			return it
		}
	}
	return decodeItemSlowly(source, raw, record, def, tt)
}

// decodeItemSlowly decodes the object's type and metadata first, then the
// object: the general path, which also gives the errors their context.
func decodeItemSlowly(source string, raw []byte, record recording, def typeMeta, tt templateTable) item {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return item{err: err}
	}
	if head.Kind == "" && head.APIVersion == "" {
		head.APIVersion, head.Kind = def.APIVersion, def.Kind
	}
	if head.Kind == "" || head.APIVersion == "" {
		return item{err: errors.New("object has no apiVersion or kind")}
	}
	if head.Metadata.Name == "" && head.Metadata.GenerateName == "" {
		return item{err: fmt.Errorf("%s has no metadata.name", head.Kind)}
	}
	var it item
	dec, known := decoderOf(head.Kind, tt)
	if !known {
		it.other = head.Kind
		if record == recordAll {
			it.usages = usagesOf(source, head.APIVersion, head.Kind, &head.Metadata)
		}
		return it
	}
	it.usages = record.usages(source, head.APIVersion, head.Kind, &head.Metadata)
	t, err := dec(raw)
	if err != nil {
		return item{err: fmt.Errorf("%s %s: %v", head.Kind, qualified(head.Metadata.Namespace, head.Metadata.Name), err)}
	}
	Scrub(t.obj)
	it.add = t.add
	return it
}

// decoderOf is the kind's decoder; a pod's reads a snapshot's templates.
func decoderOf(kind string, tt templateTable) (decodeFunc, bool) {
	if kind == "Pod" && tt != nil {
		return func(raw []byte) (typedObject, error) { return decodePod(raw, tt) }, true
	}
	dec, known := decoders[kind]
	return dec, known
}

// peekKind returns the kind of an object whose encoding starts with its
// apiVersion and kind (in either order), or "" when it does not, without
// decoding the rest.
func peekKind(raw []byte) string {
	s := raw
	var kind string
	for i := 0; i < 2; i++ {
		s = skipSpace(s)
		if len(s) == 0 {
			return ""
		}
		switch {
		case i == 0 && s[0] == '{', i == 1 && s[0] == ',':
			s = s[1:]
		default:
			return ""
		}
		s = skipSpace(s)
		var key, val string
		var ok bool
		if key, s, ok = plainString(s); !ok {
			return ""
		}
		s = skipSpace(s)
		if len(s) == 0 || s[0] != ':' {
			return ""
		}
		if val, s, ok = plainString(skipSpace(s[1:])); !ok {
			return ""
		}
		switch key {
		case "kind":
			kind = val
		case "apiVersion":
		default:
			return ""
		}
	}
	return kind
}

func skipSpace(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') {
		s = s[1:]
	}
	return s
}

// plainString reads a JSON string without escapes at the start of s.
func plainString(s []byte) (string, []byte, bool) {
	if len(s) == 0 || s[0] != '"' {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			return "", s, false
		case '"':
			return string(s[1:i]), s[i+1:], true
		}
	}
	return "", s, false
}

func qualified(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// RecordUsages notes every API version an object is seen using: the version
// it was read at, the one its last-applied-configuration names, and those
// its managedFields entries record.
func (inv *Inventory) RecordUsages(source, apiVersion, kind string, meta *metav1.ObjectMeta) {
	inv.recordUsages(source, apiVersion, kind, meta)
}

func (inv *Inventory) recordUsages(source, apiVersion, kind string, meta *metav1.ObjectMeta) {
	inv.APIUsages = append(inv.APIUsages, usagesOf(source, apiVersion, kind, meta)...)
}

// usagesOf lists the API versions an object is seen using.
func usagesOf(source, apiVersion, kind string, meta *metav1.ObjectMeta) []APIUsage {
	var out []APIUsage
	add := func(v string, via UsageVia) {
		out = append(out, APIUsage{
			APIVersion: v, Kind: kind, Namespace: meta.Namespace, Name: meta.Name, Via: via, Source: source,
		})
	}
	add(apiVersion, ViaServed)
	if la, ok := meta.Annotations[LastAppliedAnnotation]; ok {
		var h struct {
			APIVersion string `json:"apiVersion"`
		}
		// A malformed annotation is kubectl's problem, not a reason to stop.
		if json.Unmarshal([]byte(la), &h) == nil && h.APIVersion != "" && h.APIVersion != apiVersion {
			add(h.APIVersion, ViaLastApplied)
		}
	}
	seen := map[string]bool{apiVersion: true}
	for _, mf := range meta.ManagedFields {
		if mf.APIVersion != "" && !seen[mf.APIVersion] {
			seen[mf.APIVersion] = true
			add(mf.APIVersion, ViaManagedFields)
		}
	}
	return out
}
