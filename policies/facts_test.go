package policies

import "testing"

func TestLoadFacts(t *testing.T) {
	f, err := LoadFacts()
	if err != nil {
		t.Fatal(err)
	}
	n := f.Skew.Node
	if n.MaxMinorsOlder != 3 || n.LegacyBelowMinor != 25 || n.LegacyMaxMinorsOlder != 2 {
		t.Errorf("skew.node = %+v, want the Kubernetes skew policy's 3, below 1.25 2", n)
	}
	if p, ok := f.Releases.LatestPatch["1.36"]; !ok || p < 3 {
		t.Errorf("releases.latest_patch[1.36] = %d (%t): the release data lacks 1.36.3, which hack/cluster.sh builds", p, ok)
	}
}
