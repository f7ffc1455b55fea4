package policies

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/upgate-dev/upgate/apilifecycle"
	"github.com/upgate-dev/upgate/inventory"
)

// input.api: the objects using, and the requests the API server recorded
// to, API versions Kubernetes has scheduled for removal. Lifecycles come
// from package apilifecycle (Kubernetes' own data). Deprecations with no
// removal release (core v1 Endpoints, v1 ComponentStatus) are left out, as
// the contract says, and so are custom resources and GA versions.
//
//	input.api.objects = [{
//	  "apiVersion": "networking.k8s.io/v1beta1", "kind": "Ingress",
//	  "namespace": "shop", "name": "web",          // namespace omitted when cluster-scoped
//	  "via": ["served", "last-applied-configuration", "managedFields"], // how it was seen, in this order
//	  "sources": ["manifests/ingress.yaml"],        // files it was read from; omitted when live
//	  "deprecated": {"release": "1.19", "major": 1, "minor": 19}, // omitted when none
//	  "removed": {"release": "1.22", "major": 1, "minor": 22},
//	  "replacement": "networking.k8s.io/v1 Ingress", // omitted when there is none...
//	  "note": "...",                                 // ...and then what to do instead, if known
//	}]
//	input.api.requests = [{    // apiserver_requested_deprecated_apis, one per group/version/resource
//	  "group": "storage.k8s.io", "version": "v1beta1", "resource": "volumeattributesclasses",
//	  "name": "volumeattributesclasses.storage.k8s.io/v1beta1", // the finding's subject name
//	  "removedRelease": "1.37", "removed": {"release": "1.37", "major": 1, "minor": 37},
//	  "replacement": "storage.k8s.io/v1 VolumeAttributesClass", // when the resource is known
//	}]
//
// Each object appears once per API version it uses, whatever number of
// ways or files it was seen in. Both lists are omitted when empty, and the
// section when both are.
func init() { registerSection("api", buildAPI) }

// viaOrder is the order vias are listed in: the version the object was
// returned at first.
var viaOrder = map[inventory.UsageVia]int{
	inventory.ViaServed: 0, inventory.ViaLastApplied: 1, inventory.ViaManagedFields: 2,
}

func buildAPI(ix *index) (ast.Value, error) {
	objects := apiObjects(ix.inv.APIUsages)
	requests, err := apiRequests(ix.inv.DeprecatedRequests)
	if err != nil {
		return nil, err
	}
	var f fields
	f.term("objects", ast.ArrayTerm(objects...))
	f.term("requests", ast.ArrayTerm(requests...))
	if len(f) == 0 {
		return nil, nil
	}
	return f.obj().Value, nil
}

type apiUse struct {
	inventory.APIUsage
	life    apilifecycle.Lifecycle
	vias    []inventory.UsageVia
	sources []string
}

func apiObjects(usages []inventory.APIUsage) []*ast.Term {
	type key struct{ apiVersion, kind, namespace, name string }
	byKey := map[key]*apiUse{}
	var order []key
	for _, u := range usages {
		l, ok := apilifecycle.Lookup(u.APIVersion, u.Kind)
		if !ok || l.Removed.IsZero() {
			continue // unknown (a custom resource), GA, or deprecated with no removal release
		}
		k := key{u.APIVersion, u.Kind, u.Namespace, u.Name}
		use := byKey[k]
		if use == nil {
			use = &apiUse{APIUsage: u, life: l}
			byKey[k] = use
			order = append(order, k)
		}
		if !slices.Contains(use.vias, u.Via) {
			use.vias = append(use.vias, u.Via)
		}
		if u.Source != "" && !slices.Contains(use.sources, u.Source) {
			use.sources = append(use.sources, u.Source)
		}
	}
	out := make([]*ast.Term, 0, len(order))
	for _, k := range order {
		u := byKey[k]
		sort.SliceStable(u.vias, func(i, j int) bool { return viaOrder[u.vias[i]] < viaOrder[u.vias[j]] })
		sort.Strings(u.sources)
		vias := make([]string, len(u.vias))
		for i, v := range u.vias {
			vias[i] = string(v)
		}
		var f fields
		f.str("apiVersion", u.APIVersion)
		f.str("kind", u.Kind)
		f.str("namespace", u.Namespace)
		f.str("name", u.Name)
		f.term("via", strs(vias))
		f.term("sources", strs(u.sources))
		f.term("deprecated", apiReleaseTerm(u.life.Deprecated))
		f.term("removed", apiReleaseTerm(u.life.Removed))
		f.str("replacement", u.life.Replacement)
		f.str("note", u.life.Note)
		out = append(out, f.obj())
	}
	return out
}

func apiRequests(reqs []inventory.DeprecatedRequest) ([]*ast.Term, error) {
	type key struct{ group, version, resource string }
	removed := map[key]apilifecycle.Release{}
	var order []key
	for _, r := range reqs {
		if strings.TrimSpace(r.RemovedRelease) == "" {
			continue // deprecated with no removal release (core v1 Endpoints)
		}
		rel, err := apilifecycle.ParseRelease(r.RemovedRelease)
		if err != nil {
			// Fail closed: a series we cannot read must not pass silently.
			return nil, fmt.Errorf("apiserver_requested_deprecated_apis series for %s: removed_release: %w",
				apiRequestName(r.Group, r.Version, r.Resource), err)
		}
		k := key{r.Group, r.Version, r.Resource}
		prev, seen := removed[k]
		if !seen {
			order = append(order, k)
		}
		// Subresources of one resource share its removal; keep the earliest.
		if !seen || rel.Compare(prev) < 0 {
			removed[k] = rel
		}
	}
	sort.Slice(order, func(i, j int) bool {
		return apiRequestName(order[i].group, order[i].version, order[i].resource) <
			apiRequestName(order[j].group, order[j].version, order[j].resource)
	})
	out := make([]*ast.Term, 0, len(order))
	for _, k := range order {
		var f fields
		f.str("group", k.group)
		f.str("version", k.version)
		f.str("resource", k.resource)
		f.str("name", apiRequestName(k.group, k.version, k.resource))
		f.str("removedRelease", removed[k].String())
		f.term("removed", apiReleaseTerm(removed[k]))
		if l, ok := apilifecycle.LookupResource(k.group, k.version, k.resource); ok {
			f.str("replacement", l.Replacement)
			f.str("note", l.Note)
		}
		out = append(out, f.obj())
	}
	return out, nil
}

// apiRequestName is how a request finding names its subject:
// "ingresses.networking.k8s.io/v1beta1", "endpoints/v1" for the core group.
func apiRequestName(group, version, resource string) string {
	if group == "" {
		return resource + "/" + version
	}
	return resource + "." + group + "/" + version
}

// apiReleaseTerm renders a release as lib.minor_index reads it; nil for none.
func apiReleaseTerm(r apilifecycle.Release) *ast.Term {
	if r.IsZero() {
		return nil
	}
	return obj(kv("release", str(r.String())), kv("major", num(r.Major)), kv("minor", num(r.Minor)))
}
