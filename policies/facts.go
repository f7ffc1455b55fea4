package policies

import (
	"fmt"
	"path"

	"sigs.k8s.io/yaml"
)

// Facts are the version facts of upgate_facts/versions.yaml that Go code
// needs besides the policies: the executor plans hops and which nodes move
// in each from them. The policies read the same file as data.upgate_facts.
type Facts struct {
	Skew struct {
		Node struct {
			MaxMinorsOlder       int `json:"max_minors_older"`
			LegacyBelowMinor     int `json:"legacy_below_minor"`
			LegacyMaxMinorsOlder int `json:"legacy_max_minors_older"`
		} `json:"node"`
	} `json:"skew"`
	Releases struct {
		// LatestPatch is the newest patch release known of each minor,
		// keyed "1.36".
		LatestPatch map[string]int `json:"latest_patch"`
	} `json:"releases"`
}

// LoadFacts reads the embedded version facts.
func LoadFacts() (*Facts, error) {
	b, err := embedded.ReadFile(path.Join(FactsKey, "versions.yaml"))
	if err != nil {
		return nil, err
	}
	var f Facts
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s/versions.yaml: %w", FactsKey, err)
	}
	if f.Skew.Node.MaxMinorsOlder < 1 || f.Skew.Node.LegacyMaxMinorsOlder < 1 {
		return nil, fmt.Errorf("%s/versions.yaml: skew.node windows must be at least one minor", FactsKey)
	}
	return &f, nil
}
