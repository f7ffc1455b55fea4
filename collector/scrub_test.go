package collector

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCollectedSnapshotKeepsOnlyWhatIsRead: a live snapshot carries no
// annotation a check does not read, no flexVolume options and no CSI
// volume attributes (inventory.Scrub).
func TestCollectedSnapshotKeepsOnlyWhatIsRead(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "app", Annotations: map[string]string{
			"vault.hashicorp.com/agent-inject-token": "s.hunter2",
			"upgate.dev/ignore":                      "safety.emptydir",
		}},
		Spec: corev1.PodSpec{NodeName: "n1", Volumes: []corev1.Volume{
			{Name: "f", VolumeSource: corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{
				Driver: "acme/flex", Options: map[string]string{"password": "hunter2"}}}},
			{Name: "s", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
				Driver: "secrets-store.csi.k8s.io", VolumeAttributes: map[string]string{"token": "hunter2"},
				NodePublishSecretRef: &corev1.LocalObjectReference{Name: "csi-secret"}}}},
		}},
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-1", Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": "hunter2"}},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
			Driver: "ebs.csi.aws.com", VolumeHandle: "vol-1", VolumeAttributes: map[string]string{"key": "hunter2"}}}},
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: map[string]string{
		"upgate.dev/phase": "done", "node.alpha.kubernetes.io/ttl": "hunter2"}}}
	inv, err := NewForClient(newFake(pod, pv, node), Options{}).Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := inv.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	out := snap.String()
	// The pod model keeps no CSI volume at all (only emptyDir, hostPath
	// and claims), so not its secret reference either.
	for _, gone := range []string{"hunter2", "vault.hashicorp.com", "volumeAttributes", "password", "csi-secret"} {
		if strings.Contains(out, gone) {
			t.Errorf("snapshot holds %q:\n%s", gone, out)
		}
	}
	for _, kept := range []string{`"upgate.dev/ignore":"safety.emptydir"`, `"upgate.dev/phase":"done"`,
		// A PersistentVolume keeps which source it has, not its settings.
		`{"name":"pv-1"},"spec":{"csi":{}}`} {
		if !strings.Contains(out, kept) {
			t.Errorf("snapshot lacks %s:\n%s", kept, out)
		}
	}
}
