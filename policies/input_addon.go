package policies

import (
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/upgate-dev/upgate/inventory"
)

// input.addon: cluster add-ons whose versions the rules compare with the
// target.
//
//	input.addon.ccm = [{               // cloud-controller-manager instances:
//	    "namespace", "pod", "node",    // kube-system pods labelled
//	    "raw": "registry/ccm:v1.35.1", // component=cloud-controller-manager
//	    "version": {...},              // omitted when the tag is no version
//	}]
func init() { registerSection("addon", buildAddon) }

func buildAddon(ix *index) (ast.Value, error) {
	var ccm []*ast.Term
	for _, c := range ix.comps() {
		if c.Name != inventory.ComponentCloudController {
			continue
		}
		ccm = append(ccm, componentTerm(c))
	}
	if len(ccm) == 0 {
		return nil, nil
	}
	return ast.NewObject(kv("ccm", ast.ArrayTerm(ccm...))), nil
}
