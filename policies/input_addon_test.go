package policies

import (
	"slices"
	"testing"
)

func TestCCMBehindTarget(t *testing.T) {
	checks := []string{"addon.ccm-behind-target"}
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{"v1.36.0", []string{"addon.ccm-behind-target Pod/kube-system/cloud-controller-manager-cp-1 @cp-1"}},
		{"1.36", []string{"addon.ccm-behind-target Pod/kube-system/cloud-controller-manager-cp-1 @cp-1"}},
		{"v1.35.4", nil}, // same minor: patches are not compared
	} {
		t.Run(tc.target, func(t *testing.T) {
			res := bkRun(t, Request{Inventory: readTestdata(t, "addon/ccm"), Target: mustVer(t, tc.target)})
			if got := bkKeys(res.Findings, checks...); !slices.Equal(got, tc.want) {
				t.Fatalf("findings:\n got %q\nwant %q", got, tc.want)
			}
			if tc.want != nil {
				bkMessages(t, res.Findings, checks,
					"cloud-controller-manager kube-system/cloud-controller-manager-cp-1 on node cp-1 is at v1.35.1, below the target v1.36")
			}
			if !slices.Contains(res.Checks, "addon.ccm-behind-target") {
				t.Errorf("Checks lacks addon.ccm-behind-target: %v", res.Checks)
			}
		})
	}
}
