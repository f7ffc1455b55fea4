package policies

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

func skewFindings(fs []finding.Finding) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if strings.HasPrefix(f.Check, "skew.") {
			out = append(out, f)
		}
	}
	return out
}

// Every skew check fires on its own minimal manifest, and nothing else in
// skew.* does.
func TestSkewChecksOnManifests(t *testing.T) {
	e := testEngine(t)
	for _, tc := range []struct {
		dir, current, target string
		check                string
		subjects             []string // Kind/namespace/name of each finding
		msg                  string
	}{
		{"apiserver-ha", "v1.33.4", "v1.34.0", "skew.apiserver-ha",
			[]string{"Pod/kube-system/kube-apiserver-cp-2"}, "is at v1.33.4, 2 minors behind the newest kube-apiserver (v1.35.2)"},
		{"kubelet-newer", "v1.35.2", "v1.36.0", "skew.kubelet-newer",
			[]string{"Node//worker-1"}, "kubelet on node worker-1 is at v1.36.0, newer than the oldest kube-apiserver (v1.35.2)"},
		{"kubelet-too-old", "v1.35.2", "v1.36.0", "skew.kubelet-too-old",
			[]string{"Node//worker-1"}, "kubelet on node worker-1 is at v1.32.5, 4 minors behind the target control plane v1.36.0"},
		{"kube-proxy-newer", "v1.35.2", "v1.36.0", "skew.kube-proxy-newer",
			[]string{"Pod/kube-system/kube-proxy-x7k2p"}, "kube-proxy kube-system/kube-proxy-x7k2p on node worker-1 is at v1.36.0, newer than the oldest kube-apiserver (v1.35.2)"},
		{"kube-proxy-too-old", "v1.35.2", "v1.36.0", "skew.kube-proxy-too-old",
			[]string{"Node//worker-2", "Pod/kube-system/kube-proxy-m4q9z"}, "is at v1.32.0, 4 minors behind the target control plane v1.36.0"},
		{"control-plane-newer", "v1.35.2", "v1.36.0", "skew.control-plane-newer",
			[]string{"Pod/kube-system/kube-scheduler-cp-1"}, "kube-scheduler kube-system/kube-scheduler-cp-1 on node cp-1 is at v1.36.0, newer than the oldest kube-apiserver (v1.35.2)"},
		{"control-plane-too-old", "v1.35.2", "v1.36.0", "skew.control-plane-too-old",
			[]string{"Pod/kube-system/kube-controller-manager-cp-1"}, "is at v1.34.1, 2 minors behind the target control plane v1.36.0"},
		{"version-unknown", "v1.35.2", "v1.36.0", "skew.version-unknown",
			[]string{"Node//worker-1", "Pod/kube-system/kube-apiserver-cp-1", "Pod/kube-system/kube-controller-manager-cp-1"},
			`kube-apiserver kube-system/kube-apiserver-cp-1 on node cp-1: version "registry.k8s.io/kube-apiserver:latest" cannot be read`},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			res := evaluate(t, e, readTestdata(t, "skew/"+tc.dir), tc.current, tc.target)
			got := skewFindings(res.Findings)
			var subjects []string
			for _, f := range got {
				if f.Check != tc.check {
					t.Errorf("unexpected %s: %s", f.Check, f.Message)
				}
				subjects = append(subjects, f.Subject.Kind+"/"+f.Subject.Namespace+"/"+f.Subject.Name)
			}
			slices.Sort(subjects)
			if !slices.Equal(subjects, tc.subjects) {
				t.Fatalf("subjects = %v, want %v", subjects, tc.subjects)
			}
			if !slices.ContainsFunc(got, func(f finding.Finding) bool { return strings.Contains(f.Message, tc.msg) }) {
				t.Errorf("no message contains %q: %+v", tc.msg, got)
			}
			for _, f := range got {
				if f.Node == "" || f.Remediation == "" {
					t.Errorf("finding without node or remediation: %+v", f)
				}
			}
		})
	}
}

// skewCluster builds an inventory from component versions: "kube-apiserver@cp-1=v1.36.0",
// "kubelet@worker-1=v1.35.0", "kube-proxy@worker-1=v1.35.0".
func skewCluster(specs ...string) *inventory.Inventory {
	inv := &inventory.Inventory{}
	for _, s := range specs {
		name, rest, _ := strings.Cut(s, "@")
		node, ver, _ := strings.Cut(rest, "=")
		switch name {
		case "kubelet":
			inv.Nodes = append(inv.Nodes, &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: node},
				Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: ver}},
			})
		default:
			labels := map[string]string{"component": name}
			if name == "kube-proxy" {
				labels = map[string]string{"k8s-app": name}
			}
			inv.Pods = append(inv.Pods, inventory.PodOf(&corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name + "-" + node, Labels: labels},
				Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{
					{Name: name, Image: "registry.k8s.io/" + name + ":" + ver},
				}},
			}))
		}
	}
	return inv
}

// The worked examples of the Kubernetes "Version Skew Policy" page
// (https://kubernetes.io/releases/version-skew-policy/), at 1.36, through
// Evaluate on inventories. Checks compare against the target control plane
// (1.36 here) and the oldest current kube-apiserver.
func TestSkewPolicyExamples(t *testing.T) {
	e := testEngine(t)
	type example struct {
		name       string
		components []string
		current    string
		want       []string // skew checks expected, sorted; nil = supported
		target     string   // default 1.36.0
	}
	var cases []example
	single := []string{"kube-apiserver@cp-1=v1.36.0"}
	ha := []string{"kube-apiserver@cp-1=v1.36.0", "kube-apiserver@cp-2=v1.35.0"}

	// kube-apiserver: newest at 1.36 → other instances supported at 1.36 and 1.35.
	cases = append(cases,
		example{"apiserver 1.36+1.36", []string{"kube-apiserver@cp-1=v1.36.0", "kube-apiserver@cp-2=v1.36.0"}, "1.36.0", nil, ""},
		example{"apiserver 1.36+1.35", ha, "1.35.0", nil, ""},
		example{"apiserver 1.36+1.34", []string{"kube-apiserver@cp-1=v1.36.0", "kube-apiserver@cp-2=v1.34.0"}, "1.34.0", []string{"skew.apiserver-ha"}, ""},
	)
	// kubelet (and kube-proxy, same rules): kube-apiserver at 1.36 → 1.36,
	// 1.35, 1.34, 1.33 supported; HA at 1.36 and 1.35 → 1.35, 1.34, 1.33
	// (1.36 would be newer than the 1.35 instance).
	for _, comp := range []string{"kubelet", "kube-proxy"} {
		for minor := 31; minor <= 37; minor++ {
			v := fmt.Sprintf("%s@worker-1=v1.%d.0", comp, minor)
			var wantSingle, wantHA []string
			switch {
			case minor < 33:
				wantSingle, wantHA = []string{"skew." + comp + "-too-old"}, []string{"skew." + comp + "-too-old"}
			case minor == 36:
				wantHA = []string{"skew." + comp + "-newer"}
			case minor > 36:
				wantSingle, wantHA = []string{"skew." + comp + "-newer"}, []string{"skew." + comp + "-newer"}
			}
			cases = append(cases,
				example{fmt.Sprintf("%s 1.%d, apiserver 1.36", comp, minor), append(slices.Clone(single), v), "1.36.0", wantSingle, ""},
				example{fmt.Sprintf("%s 1.%d, apiservers 1.36+1.35", comp, minor), append(slices.Clone(ha), v), "1.35.0", wantHA, ""},
			)
		}
	}
	// kubelet older than 1.25 may trail by two minors only.
	cases = append(cases,
		example{"kubelet 1.24, target 1.27", []string{"kube-apiserver@cp-1=v1.26.0", "kubelet@w=v1.24.0"}, "1.26.0", []string{"skew.kubelet-too-old"}, "1.27.0"},
		example{"kubelet 1.25, target 1.28", []string{"kube-apiserver@cp-1=v1.27.0", "kubelet@w=v1.25.0"}, "1.27.0", nil, "1.28.0"},
	)
	// controller-manager, scheduler, cloud-controller-manager: apiserver at
	// 1.36 → 1.36 and 1.35 supported; apiservers at 1.36 and 1.35 → only 1.35.
	for _, comp := range []string{"kube-controller-manager", "kube-scheduler", "cloud-controller-manager"} {
		for minor := 34; minor <= 37; minor++ {
			v := fmt.Sprintf("%s@cp-1=v1.%d.0", comp, minor)
			var wantSingle, wantHA []string
			switch {
			case minor < 35:
				wantSingle, wantHA = []string{"skew.control-plane-too-old"}, []string{"skew.control-plane-too-old"}
			case minor == 36:
				wantHA = []string{"skew.control-plane-newer"}
			case minor > 36:
				wantSingle, wantHA = []string{"skew.control-plane-newer"}, []string{"skew.control-plane-newer"}
			}
			cases = append(cases,
				example{fmt.Sprintf("%s 1.%d, apiserver 1.36", comp, minor), append(slices.Clone(single), v), "1.36.0", wantSingle, ""},
				example{fmt.Sprintf("%s 1.%d, apiservers 1.36+1.35", comp, minor), append(slices.Clone(ha), v), "1.35.0", wantHA, ""},
			)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			if target == "" {
				target = "1.36.0"
			}
			res := evaluate(t, e, skewCluster(tc.components...), tc.current, target)
			got := checksOf(skewFindings(res.Findings))
			if !slices.Equal(got, tc.want) {
				t.Errorf("skew checks = %v, want %v\n%+v", got, tc.want, skewFindings(res.Findings))
			}
		})
	}
}

func TestSkewUnknownNeverGuesses(t *testing.T) {
	e := testEngine(t)
	// A kubelet far too new and a scheduler far too old, but unreadable:
	// only version-unknown.
	inv := skewCluster("kube-apiserver@cp-1=v1.35.0", "kube-scheduler@cp-1=latest", "kube-proxy@w=sha256")
	inv.Nodes = append(inv.Nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w"},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "unknown"}}})
	res := evaluate(t, e, inv, "1.35.0", "1.36.0")
	if got := checksOf(skewFindings(res.Findings)); !slices.Equal(got, []string{"skew.version-unknown"}) {
		t.Fatalf("skew checks = %v", got)
	}
	if n := len(ofCheck(res.Findings, "skew.version-unknown")); n != 3 {
		t.Errorf("%d version-unknown findings, want 3", n)
	}
}
