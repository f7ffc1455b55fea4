package policies

import (
	"slices"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/finding"
)

func subjectKey(f finding.Finding) string {
	return f.Check + " " + f.Subject.Kind + "/" + f.Subject.Namespace + "/" + f.Subject.Name + "@" + f.Node
}

func prefixed(fs []finding.Finding, prefix string) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if strings.HasPrefix(f.Check, prefix) {
			out = append(out, f)
		}
	}
	return out
}

// Each safety check fires on its own minimal manifest; the findings listed
// are all the safety findings there are.
func TestSafetyChecksOnManifests(t *testing.T) {
	e := testEngine(t)
	for _, tc := range []struct {
		dir  string
		want []string // subjectKey of every safety finding, sorted
		msg  string   // a substring of one of them
	}{
		{"unmanaged-pod", []string{"safety.unmanaged-pod Pod/hazards/bare@worker-1"},
			"pod hazards/bare on node worker-1 has no controller among a ReplicationController, ReplicaSet, Job, DaemonSet or StatefulSet"},
		{"singleton", []string{
			"safety.singleton Deployment/shop/db@worker-1",
			"safety.singleton StatefulSet/shop/queue@worker-2",
		}, "Deployment shop/db has a single replica (its pod runs on node worker-1)"},
		{"daemonset-single-node", []string{"safety.daemonset-single-node DaemonSet/storage/nfs-server@worker-2"},
			"DaemonSet storage/nfs-server is scheduled on a single node (worker-2)"},
		{"emptydir", []string{
			"safety.emptydir Pod/shop/cache-6b7c8d-aaaaa@worker-1",
			"safety.emptydir Pod/shop/cache-6b7c8d-bbbbb@worker-2",
		}, "pod shop/cache-6b7c8d-aaaaa on node worker-1 has emptyDir volume(s) scratch"},
		{"hostpath", []string{"safety.hostpath Pod/ops/log-shipper-5f6a7b-ccccc@worker-1"},
			"mounts hostPath volume(s) varlog (/var/log)"},
		{"hostpath-pv", []string{
			"safety.hostpath-pv Pod/shop/pg-0@worker-1",
			"safety.hostpath-pv Pod/shop/pg-1@worker-2",
		}, "pod shop/pg-0 on node worker-1 uses PersistentVolumeClaim data-pg-0 bound to local PersistentVolume local-pv-1 (/mnt/disks/ssd1)"},
		{"etcd-quorum", []string{
			"safety.etcd-quorum Node//cp-1@cp-1",
			"safety.etcd-quorum Node//cp-2@cp-2",
		}, "node cp-1 runs etcd and the cluster has 2 etcd node(s)"},
		{"single-control-plane", []string{"safety.single-control-plane Node//cp-1@cp-1"},
			"node cp-1 is the only control-plane node"},
		{"single-worker", []string{"safety.single-worker Node//worker-1@worker-1"},
			"node worker-1 is the only worker node"},
		{"ingress-node", []string{"safety.ingress-node Node//edge-1@edge-1"},
			"node edge-1 has the ingress role"},
		{"storage-node", []string{"safety.storage-node Node//ceph-1@ceph-1"},
			"node ceph-1 has the storage role"},
		{"negatives", nil, ""},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			res := evaluate(t, e, readTestdata(t, "safety/"+tc.dir), "v1.35.2", "v1.36.0")
			got := prefixed(res.Findings, "safety.")
			var keys []string
			for _, f := range got {
				keys = append(keys, subjectKey(f))
				if f.Severity != finding.SeverityBlock {
					t.Errorf("%s: severity %s", f.Check, f.Severity)
				}
				if !strings.Contains(f.Remediation, "upgate.dev/ignore") || !strings.Contains(f.Remediation, "--ignore-safety-checks") {
					t.Errorf("%s: remediation lacks the way out: %q", f.Check, f.Remediation)
				}
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.want) {
				t.Fatalf("safety findings:\n got %q\nwant %q", keys, tc.want)
			}
			if tc.msg != "" && !slices.ContainsFunc(got, func(f finding.Finding) bool { return strings.Contains(f.Message, tc.msg) }) {
				t.Errorf("no message contains %q:\n%+v", tc.msg, got)
			}
		})
	}
}

// A clean kubeadm-like cluster (3 control-plane nodes with stacked etcd, 3
// workers) upgrading one minor passes: no finding at all.
func TestCleanClusterPasses(t *testing.T) {
	e := testEngine(t)
	inv := readTestdata(t, "clean-cluster")
	if len(inv.Nodes) != 6 {
		t.Fatalf("clean cluster has %d nodes", len(inv.Nodes))
	}
	res := evaluate(t, e, inv, "v1.35.2", "v1.36.0")
	for _, f := range res.Findings {
		t.Errorf("unexpected %s %s: %s", f.Check, f.Severity, f.Message)
	}
	for _, c := range []string{"path.minor-skip", "skew.kubelet-too-old", "safety.emptydir", "safety.etcd-quorum"} {
		if !slices.Contains(res.Checks, c) {
			t.Errorf("Checks lacks %s: %v", c, res.Checks)
		}
	}
}

// Every check the catalog assigns to path, skew and safety is evaluated.
func TestChecksListed(t *testing.T) {
	e := testEngine(t)
	res := evaluate(t, e, readTestdata(t, "clean-cluster"), "v1.35.2", "v1.36.0")
	want := []string{
		"path.downgrade", "path.minor-skip", "path.same-version",
		"safety.daemonset-single-node", "safety.emptydir", "safety.etcd-quorum", "safety.hostpath", "safety.hostpath-pv",
		"safety.ingress-node", "safety.single-control-plane", "safety.single-worker", "safety.singleton",
		"safety.storage-node", "safety.unmanaged-pod",
		"skew.apiserver-ha", "skew.control-plane-newer", "skew.control-plane-too-old", "skew.kube-proxy-newer",
		"skew.kube-proxy-too-old", "skew.kubelet-newer", "skew.kubelet-too-old", "skew.version-unknown",
	}
	for _, c := range want {
		if !slices.Contains(res.Checks, c) {
			t.Errorf("Checks lacks %s", c)
		}
	}
}
