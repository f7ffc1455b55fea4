package policies

import (
	"slices"

	"github.com/upgate-dev/upgate/finding"
)

// topicKinds are, for each topic whose checks judge objects of kinds a
// hand-made dump may leave out, the kinds it judges. A topic is judged on
// nothing when its input holds none of one entry's kinds (either webhook
// configuration will do; both the Services and EndpointSlices are needed
// to tell a webhook's backend is there).
var topicKinds = []struct {
	topic string
	need  [][]string
}{
	{"addon", [][]string{{"DaemonSet", "Deployment"}}},
	{"pdb", [][]string{{"PodDisruptionBudget"}}},
	{"safety", [][]string{{"Pod"}}},
	{"webhook", [][]string{
		{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"},
		{"Service"},
		{"EndpointSlice"},
	}},
}

// InputGaps names the topics that counts (objects read, by kind) give
// nothing to judge, and the kinds each lacks. Only plain manifests can lack
// a kind: ask it of those alone.
func InputGaps(counts map[string]int) []finding.InputGap {
	var out []finding.InputGap
	for _, t := range topicKinds {
		var missing []string
		for _, any := range t.need {
			if !slices.ContainsFunc(any, func(k string) bool { return counts[k] > 0 }) {
				missing = append(missing, any...)
			}
		}
		if len(missing) > 0 {
			out = append(out, finding.InputGap{Topic: t.topic, Missing: missing})
		}
	}
	return out
}
