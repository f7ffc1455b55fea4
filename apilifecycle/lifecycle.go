// Package apilifecycle says when each Kubernetes API group-version-kind was
// introduced, deprecated and removed, and what replaces it.
//
// The facts come from Kubernetes itself wherever it still ships them: the
// APILifecycleIntroduced/Deprecated/Removed/Replacement methods that
// prerelease-lifecycle-gen writes into k8s.io/api's
// zz_generated.prerelease-lifecycle.go files, read from every type registered
// in client-go's scheme. APIs whose types are already gone from k8s.io/api
// (extensions/v1beta1 PodSecurityPolicy, autoscaling/v2beta1, ...) or never
// lived there (apiextensions.k8s.io/v1beta1, apiregistration.k8s.io/v1beta1)
// are listed in the embedded removed.yaml, each entry naming the module
// version whose generated code it was copied from.
//
// Kubernetes' generated data is used as it is: for a beta without explicit
// tags the generator itself defaults "deprecated" to introduced+3 minors and
// "removed" to deprecated+3, and those defaults are what the API server
// enforces. Generally-available versions have no removal release; a few are
// deprecated without one (core v1 Endpoints and ComponentStatus), and callers
// must not report those (the contract: deprecations with no removal release
// are not findings).
package apilifecycle

import (
	_ "embed"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	kubeversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Release is a Kubernetes minor release, 1.25. The zero value means none
// (not deprecated, not removed).
type Release struct {
	Major, Minor int
}

// IsZero reports the absence of a release.
func (r Release) IsZero() bool { return r == Release{} }

// String is "1.25", or "" for the zero release.
func (r Release) String() string {
	if r.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%d", r.Major, r.Minor)
}

// Compare orders releases by major then minor: -1, 0 or +1.
func (r Release) Compare(o Release) int {
	switch {
	case r.Major != o.Major:
		return cmpInt(r.Major, o.Major)
	default:
		return cmpInt(r.Minor, o.Minor)
	}
}

// AtOrBefore reports whether r is set and no later than the minor of v.
func (r Release) AtOrBefore(v *version.Version) bool {
	return !r.IsZero() && v != nil && r.Compare(Release{int(v.Major()), int(v.Minor())}) <= 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ParseRelease reads "1.25", "v1.25" or "v1.25.0" (the patch is dropped);
// "" gives the zero release.
func ParseRelease(s string) (Release, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Release{}, nil
	}
	t = strings.TrimPrefix(t, "v")
	parts := strings.Split(t, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Release{}, fmt.Errorf("%q is not a Kubernetes release (want 1.25)", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Release{}, fmt.Errorf("%q is not a Kubernetes release (want 1.25)", s)
		}
		n[i] = v
	}
	if n[0] == 0 {
		return Release{}, fmt.Errorf("%q is not a Kubernetes release (want 1.25)", s)
	}
	return Release{n[0], n[1]}, nil
}

// MarshalJSON writes the release as "1.25" (or "").
func (r Release) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(r.String())), nil }

// UnmarshalJSON reads what ParseRelease reads.
func (r *Release) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("release %s: want a quoted string such as \"1.25\"", b)
	}
	v, err := ParseRelease(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// DataRelease is the Kubernetes release whose k8s.io/api this package reads
// (v0.36.x); a test keeps it in step with go.mod.
var DataRelease = Release{1, 36}

// Lifecycle is what Kubernetes says about one group-version-kind.
type Lifecycle struct {
	Group, Version, Kind string
	// Resource is the REST resource the kind is served as ("ingresses").
	Resource string
	// Introduced, Deprecated and Removed are zero when there is none. A
	// generally-available version has no removal; a few are deprecated
	// without one (core v1 Endpoints, ComponentStatus).
	Introduced, Deprecated, Removed Release
	// Replacement is the API to move to, "apps/v1 Deployment": the end of
	// Kubernetes' replacement chain (flowcontrol v1beta1 names v1beta3,
	// which names v1). When Kubernetes names none, the same group and kind
	// at a generally-available version it serves is used. Empty when there
	// is no replacement (then Note says what to do instead).
	Replacement string
	// Note says what to do when there is no replacement API.
	Note string
	// Source names where the facts came from ("k8s.io/api", or the module
	// version a removed.yaml entry was copied from).
	Source string
}

// APIVersion is the group/version as objects carry it: "apps/v1", "v1".
func (l Lifecycle) APIVersion() string {
	return schema.GroupVersion{Group: l.Group, Version: l.Version}.String()
}

// IsDeprecated reports a deprecation or removal release: the version is on
// its way out.
func (l Lifecycle) IsDeprecated() bool { return !l.Deprecated.IsZero() || !l.Removed.IsZero() }

// Lookup finds the lifecycle of kind at apiVersion ("networking.k8s.io/v1beta1",
// "Ingress"). ok is false for kinds Kubernetes does not define (custom
// resources) and for built-in versions without lifecycle data.
func Lookup(apiVersion, kind string) (Lifecycle, bool) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return Lifecycle{}, false
	}
	t := load()
	l, ok := t.byKind[gv.WithKind(kind)]
	return l, ok
}

// LookupResource finds the lifecycle of a group/version/resource as the API
// server's apiserver_requested_deprecated_apis metric names it ("" for the
// core group, a plural resource such as "ingresses").
func LookupResource(group, version, resource string) (Lifecycle, bool) {
	t := load()
	l, ok := t.byResource[schema.GroupVersionResource{Group: group, Version: version, Resource: resource}]
	return l, ok
}

// All lists every known lifecycle, sorted by group, version (newest first)
// and kind.
func All() []Lifecycle {
	t := load()
	out := make([]Lifecycle, len(t.all))
	copy(out, t.all)
	return out
}

// ResourceFor maps a kind to its REST resource by the REST mapper's
// convention: lower case, plural ("Ingress" → "ingresses", "NetworkPolicy"
// → "networkpolicies", "Endpoints" → "endpoints"), with resourceExceptions
// for kinds that break it.
func ResourceFor(gvk schema.GroupVersionKind) string {
	if r, ok := resourceExceptions[gvk.GroupKind()]; ok {
		return r
	}
	plural, _ := meta.UnsafeGuessKindToResource(gvk)
	return plural.Resource
}

// resourceExceptions are built-in kinds whose resource is not the
// lower-case plural. None of Kubernetes' own kinds needs one today; the
// test pins the conventions that matter (ingresses, networkpolicies,
// endpoints, podsecuritypolicies, ...).
var resourceExceptions = map[schema.GroupKind]string{}

// The interfaces prerelease-lifecycle-gen implements; a GA type has only
// the first.
type (
	introduced interface {
		APILifecycleIntroduced() (major, minor int)
	}
	deprecated interface {
		APILifecycleDeprecated() (major, minor int)
	}
	removed interface {
		APILifecycleRemoved() (major, minor int)
	}
	replaced interface {
		APILifecycleReplacement() schema.GroupVersionKind
	}
)

//go:embed removed.yaml
var removedYAML []byte

// removedFile is removed.yaml's shape.
type removedFile struct {
	APIs []removedEntry `json:"apis"`
}

type removedEntry struct {
	APIVersion  string  `json:"apiVersion"`
	Kind        string  `json:"kind"`
	Resource    string  `json:"resource,omitempty"`
	Introduced  Release `json:"introduced"`
	Deprecated  Release `json:"deprecated"`
	Removed     Release `json:"removed"`
	Replacement string  `json:"replacement,omitempty"`
	Note        string  `json:"note,omitempty"`
	Source      string  `json:"source"`
}

type table struct {
	all        []Lifecycle
	byKind     map[schema.GroupVersionKind]Lifecycle
	byResource map[schema.GroupVersionResource]Lifecycle
}

var (
	loadOnce sync.Once
	loaded   *table
)

func load() *table {
	loadOnce.Do(func() {
		t, err := build(scheme.Scheme, removedYAML)
		if err != nil {
			// removed.yaml is embedded and tested: a bad one is a build bug.
			panic(err)
		}
		loaded = t
	})
	return loaded
}

// entry is a lifecycle before its replacement chain is resolved.
type entry struct {
	Lifecycle
	next schema.GroupVersionKind // Kubernetes' replacement, empty for none
}

// build reads the lifecycle methods of every type registered in s, adds
// removed.yaml's entries for types no longer in it, and resolves
// replacements.
func build(s *runtime.Scheme, removedData []byte) (*table, error) {
	entries := map[schema.GroupVersionKind]*entry{}
	for gvk, typ := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		obj, ok := reflect.New(typ).Interface().(runtime.Object)
		if !ok || meta.IsListType(obj) {
			continue
		}
		in, ok := obj.(introduced)
		if !ok {
			continue // no lifecycle data (an option type, an untagged alpha)
		}
		e := &entry{Lifecycle: Lifecycle{
			Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind,
			Resource: ResourceFor(gvk), Source: "k8s.io/api",
		}}
		e.Introduced = release(in.APILifecycleIntroduced())
		if d, ok := obj.(deprecated); ok {
			e.Deprecated = release(d.APILifecycleDeprecated())
		}
		if r, ok := obj.(removed); ok {
			e.Removed = release(r.APILifecycleRemoved())
		}
		if r, ok := obj.(replaced); ok {
			e.next = r.APILifecycleReplacement()
			// networking.k8s.io/v1beta1 IngressClass is tagged with
			// replacement IngressClassList, a slip in its types.go: an
			// object's replacement is never a list.
			if strings.HasSuffix(e.next.Kind, "List") && !strings.HasSuffix(gvk.Kind, "List") {
				e.next.Kind = strings.TrimSuffix(e.next.Kind, "List")
			}
		}
		entries[gvk] = e
	}

	var f removedFile
	if err := yaml.UnmarshalStrict(removedData, &f); err != nil {
		return nil, fmt.Errorf("apilifecycle: removed.yaml: %w", err)
	}
	for i, r := range f.APIs {
		gv, err := schema.ParseGroupVersion(r.APIVersion)
		if err != nil || r.Kind == "" || r.APIVersion == "" {
			return nil, fmt.Errorf("apilifecycle: removed.yaml entry %d: bad apiVersion %q or kind %q", i, r.APIVersion, r.Kind)
		}
		gvk := gv.WithKind(r.Kind)
		if _, dup := entries[gvk]; dup {
			return nil, fmt.Errorf("apilifecycle: removed.yaml lists %s %s, which k8s.io/api still defines: drop the entry", r.APIVersion, r.Kind)
		}
		if r.Removed.IsZero() || r.Source == "" {
			return nil, fmt.Errorf("apilifecycle: removed.yaml: %s %s needs removed and source", r.APIVersion, r.Kind)
		}
		if !r.Deprecated.IsZero() && r.Deprecated.Compare(r.Removed) > 0 {
			return nil, fmt.Errorf("apilifecycle: removed.yaml: %s %s deprecated %s after its removal %s", r.APIVersion, r.Kind, r.Deprecated, r.Removed)
		}
		e := &entry{Lifecycle: Lifecycle{
			Group: gv.Group, Version: gv.Version, Kind: r.Kind, Resource: r.Resource,
			Introduced: r.Introduced, Deprecated: r.Deprecated, Removed: r.Removed,
			Note: r.Note, Source: r.Source,
		}}
		if e.Resource == "" {
			e.Resource = ResourceFor(gvk)
		}
		if r.Replacement != "" {
			next, err := parseReplacement(r.Replacement)
			if err != nil {
				return nil, fmt.Errorf("apilifecycle: removed.yaml: %s %s: %w", r.APIVersion, r.Kind, err)
			}
			e.next = next
		}
		entries[gvk] = e
	}

	t := &table{
		byKind:     make(map[schema.GroupVersionKind]Lifecycle, len(entries)),
		byResource: make(map[schema.GroupVersionResource]Lifecycle, len(entries)),
	}
	for gvk, e := range entries {
		l := e.Lifecycle
		end, note, ok := resolve(entries, gvk)
		if ok {
			l.Replacement = end.GroupVersion().String() + " " + end.Kind
		} else if l.Note == "" {
			l.Note = note
		}
		t.all = append(t.all, l)
	}
	sort.Slice(t.all, func(i, j int) bool {
		a, b := t.all[i], t.all[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return kubeversion.CompareKubeAwareVersionStrings(a.Version, b.Version) > 0
		}
		return a.Kind < b.Kind
	})
	for _, l := range t.all {
		t.byKind[schema.GroupVersionKind{Group: l.Group, Version: l.Version, Kind: l.Kind}] = l
		gvr := schema.GroupVersionResource{Group: l.Group, Version: l.Version, Resource: l.Resource}
		// Kinds that are not resources (Scale, DeploymentRollback) may guess
		// a resource a real kind has: the kind with a lifecycle worth
		// reporting wins, then the first in sorted order.
		if prev, dup := t.byResource[gvr]; !dup || (!prev.IsDeprecated() && l.IsDeprecated()) {
			t.byResource[gvr] = l
		}
	}
	return t, nil
}

// resolve follows Kubernetes' replacement chain from gvk until it reaches a
// version that is not on its way out (flowcontrol v1beta1 → v1beta3 → v1).
// A deprecated version Kubernetes names no replacement for is replaced by
// the same group and kind at the newest generally-available version known.
// A chain that ends in a version no longer served by DataRelease has no
// replacement to offer (extensions/v1beta1 PodSecurityPolicy names
// policy/v1beta1, gone in 1.25): ok is false and note is that end's.
func resolve(entries map[schema.GroupVersionKind]*entry, gvk schema.GroupVersionKind) (end schema.GroupVersionKind, note string, ok bool) {
	start := entries[gvk]
	if !start.IsDeprecated() {
		return schema.GroupVersionKind{}, "", false
	}
	cur, seen := gvk, map[schema.GroupVersionKind]bool{gvk: true}
	for {
		e := entries[cur]
		if e == nil || !e.IsDeprecated() {
			break // a live version, or one we know nothing more about
		}
		next := e.next
		if next.Empty() {
			if next, ok = stableSibling(entries, cur); !ok {
				break
			}
		}
		if seen[next] {
			break
		}
		seen[next], cur = true, next
	}
	if cur == gvk {
		return schema.GroupVersionKind{}, "", false
	}
	if e := entries[cur]; e != nil && !e.Removed.IsZero() && e.Removed.Compare(DataRelease) <= 0 {
		return schema.GroupVersionKind{}, e.Note, false
	}
	return cur, "", true
}

// stableSibling is gvk's group and kind at the newest GA version known that
// is not itself on its way out.
func stableSibling(entries map[schema.GroupVersionKind]*entry, gvk schema.GroupVersionKind) (schema.GroupVersionKind, bool) {
	var best schema.GroupVersionKind
	for k, e := range entries {
		if k.Group != gvk.Group || k.Kind != gvk.Kind || e.IsDeprecated() || !isGA(k.Version) {
			continue
		}
		if best.Empty() || kubeversion.CompareKubeAwareVersionStrings(k.Version, best.Version) > 0 {
			best = k
		}
	}
	return best, !best.Empty()
}

// isGA reports a version without alpha or beta: v1, v2.
func isGA(v string) bool {
	return strings.HasPrefix(v, "v") && !strings.Contains(v, "alpha") && !strings.Contains(v, "beta")
}

// parseReplacement reads "apps/v1 Deployment".
func parseReplacement(s string) (schema.GroupVersionKind, error) {
	apiVersion, kind, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok || kind == "" || strings.Contains(kind, " ") {
		return schema.GroupVersionKind{}, fmt.Errorf("replacement %q: want \"<apiVersion> <Kind>\"", s)
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("replacement %q: %w", s, err)
	}
	return gv.WithKind(kind), nil
}

func release(major, minor int) Release {
	if major == 0 && minor == 0 {
		return Release{}
	}
	return Release{major, minor}
}
