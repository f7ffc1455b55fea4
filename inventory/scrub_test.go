package inventory

import (
	"bytes"
	"strings"
	"testing"
)

// sensitive is state a snapshot must not carry: annotations no check
// reads (a vault agent's token, a load balancer's settings), flexVolume
// options and CSI volume attributes, in pods and PersistentVolumes.
const sensitive = `apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: shop
  annotations:
    vault.hashicorp.com/agent-inject-token: "s.hunter2"
    upgate.dev/ignore: safety.emptydir
    kubernetes.io/config.mirror: "abc"
    kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{"x":"hunter2"}}}'
spec:
  nodeName: n1
  containers: [{name: c, image: "app:1"}]
  volumes:
  - name: f
    flexVolume: {driver: acme/flex, options: {password: hunter2}, secretRef: {name: flex-secret}}
  - name: s
    csi: {driver: secrets-store.csi.k8s.io, volumeAttributes: {token: hunter2}, nodePublishSecretRef: {name: csi-secret}}
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-1
  annotations: {pv.kubernetes.io/provisioned-by: "hunter2.example"}
spec:
  capacity: {storage: 1Gi}
  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-1, volumeAttributes: {key: hunter2}, nodeStageSecretRef: {name: pv-secret, namespace: kube-system}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-2}
spec:
  capacity: {storage: 1Gi}
  flexVolume: {driver: acme/flex, options: {password: hunter2}}
---
apiVersion: v1
kind: Service
metadata:
  name: lb
  namespace: shop
  annotations: {service.beta.kubernetes.io/aws-load-balancer-ssl-cert: "arn:hunter2"}
---
apiVersion: v1
kind: Node
metadata:
  name: n1
  annotations: {upgate.dev/phase: done, node.alpha.kubernetes.io/ttl: "hunter2"}
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations: {upgate.dev/ignore: "*", openshift.io/requester: hunter2}
`

func TestSnapshotKeepsOnlyWhatIsRead(t *testing.T) {
	inv, err := Read([]string{"-"}, strings.NewReader(sensitive))
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := inv.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	out := snap.String()
	// A pod's flexVolume and CSI volumes are not kept at all (the model
	// keeps the volumes the safety checks read: emptyDir, hostPath,
	// claims), so neither are their secret references.
	for _, gone := range []string{"hunter2", "vault.hashicorp.com", "volumeAttributes", "password", "flex-secret", "csi-secret"} {
		if strings.Contains(out, gone) {
			t.Errorf("snapshot holds %q:\n%s", gone, out)
		}
	}
	for _, kept := range []string{
		`"upgate.dev/ignore":"safety.emptydir"`, `"upgate.dev/ignore":"*"`, `"upgate.dev/phase":"done"`,
		`"kubernetes.io/config.mirror":"abc"`, `"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}"`,
		// A PersistentVolume keeps which source it has, not its settings
		// (a flexVolume is none the checks name).
		`{"name":"pv-1"},"spec":{"csi":{}}`, `{"name":"pv-2"}}`,
	} {
		if !strings.Contains(out, kept) {
			t.Errorf("snapshot lacks %s:\n%s", kept, out)
		}
	}
	// What the checks read of it is all there.
	if Evictable(inv.Pods[0]) {
		t.Errorf("the mirror pod counts as evictable: its annotation was lost")
	}
}
