package inventory

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// v1alpha1Snapshot is a snapshot as the v1alpha1 writer wrote it (every
// object whole, every usage in the head): a small synthetic cluster with
// a node cordoned and one not ready, and usages of every shape: a
// Deployment seen at three other versions and served with a source, an
// Ingress (a kind no check reads), a ReplicaSet with no usage, a Service
// listed twice. Its extension keeps it out of the reads of the whole
// testdata directory.
const v1alpha1Snapshot = "testdata/v1alpha1.snapshot"

// readV1alpha1 reads v1alpha1Snapshot and writes it again as the current
// version.
func readV1alpha1(t *testing.T) (*Inventory, []byte) {
	t.Helper()
	old, err := Read([]string{v1alpha1Snapshot}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cur bytes.Buffer
	if err := old.WriteSnapshot(&cur); err != nil {
		t.Fatal(err)
	}
	return old, cur.Bytes()
}

// A v1alpha2 snapshot leaves out the served usages its items imply, and a
// reader gives the inventory it was written from: the same as reading
// the v1alpha1 snapshot of the same state, usages included and in order,
// whether read as a file or from a report that recorded it.
func TestSnapshotV1alpha2ReadsAsV1alpha1(t *testing.T) {
	old, cur := readV1alpha1(t)
	var head Snapshot
	if err := json.Unmarshal(cur, &head); err != nil {
		t.Fatal(err)
	}
	if head.APIVersion != SnapshotAPIVersion {
		t.Errorf("written as %s, want %s", head.APIVersion, SnapshotAPIVersion)
	}
	implied := len(old.APIUsages) - len(head.APIUsages)
	if objects := len(head.Items); implied < objects-len(head.NotServed) {
		t.Errorf("%d usages left out of %d, for %d items of which %d not served", implied, len(old.APIUsages), objects, len(head.NotServed))
	}
	rs := old.ReplicaSets[1]
	if want := []ObjectRef{{Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name}}; !slices.Equal(head.NotServed, want) {
		t.Errorf("notServed = %v, want %v", head.NotServed, want)
	}
	for _, u := range head.APIUsages {
		if u.Via == ViaServed && u.Source == "" && u.Kind != "Ingress" && canonical[u.Kind].String() == u.APIVersion {
			t.Errorf("an implied usage is written: %+v", u)
		}
	}
	for _, kept := range []string{`"apiVersion":"apps/v1beta1","kind":"Deployment"`, `"via":"last-applied-configuration"`,
		`"via":"managedFields"`, `"source":"state.yaml"`, `"kind":"Ingress"`} {
		if !bytes.Contains(cur, []byte(kept)) {
			t.Errorf("the head lacks %s", kept)
		}
	}

	report := `{"apiVersion":"upgate.dev/v1alpha1","kind":"Report","findings":[],"snapshot":` + string(cur) + `}`
	for name, in := range map[string]string{"snapshot": string(cur), "report": report} {
		t.Run(name, func(t *testing.T) {
			back, err := Read([]string{"-"}, strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.APIUsages, old.APIUsages) {
				t.Errorf("usages differ:\nv1alpha1: %v\nv1alpha2: %v", old.APIUsages, back.APIUsages)
			}
			back.Sources, back.InputDigest = old.Sources, old.InputDigest
			if !reflect.DeepEqual(back, old) {
				t.Errorf("the v1alpha2 snapshot reads as another inventory than the v1alpha1 one")
				kindsDiffer(t, old, back)
			}
		})
	}
}

// kindsDiffer names the kinds whose objects differ between a and b.
func kindsDiffer(t *testing.T, a, b *Inventory) {
	t.Helper()
	for _, k := range Kinds {
		var as, bs []any
		k.Each(a, func(o any) { as = append(as, o) })
		k.Each(b, func(o any) { bs = append(bs, o) })
		if !reflect.DeepEqual(as, bs) {
			x, _ := json.Marshal(as)
			y, _ := json.Marshal(bs)
			t.Errorf("%s:\n%s\n---\n%s", k.Kind, x, y)
		}
	}
}

// What a snapshot writes of each kind reads back as what the kind keeps
// (keep.go, wire.go): writing again gives the same bytes, and no field
// nothing reads is written.
func TestSnapshotWritesWhatIsKept(t *testing.T) {
	_, cur := readV1alpha1(t)
	back, err := Read([]string{"-"}, bytes.NewReader(cur))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	back.Sources = []string{v1alpha1Snapshot}
	if err := back.WriteSnapshot(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cur, again.Bytes()) {
		t.Errorf("the snapshot changed on a round trip:\n%s\n---\n%s", cur, again.Bytes())
	}
	items := cur[bytes.Index(cur, []byte(`"items":[`)):]
	for _, line := range bytes.Split(items, []byte("\n")) {
		if bytes.Contains(line, []byte(`"kind":"Pod"`)) {
			continue
		}
		for _, gone := range []string{`"uid"`, `"resourceVersion"`, `"creationTimestamp"`, `"generation"`, `"template"`,
			`"selector":null`, `"clusterIP"`, `"addresses"`, `"targetRef"`, `"machineID"`, `"lastHeartbeatTime"`,
			`"lastTransitionTime"`, `"apiVersion":"apps/v1","kind":"Deployment","name"`, `"matchLabels":{"app`} {
			if bytes.Contains(line, []byte(gone)) && !(gone == `"matchLabels":{"app` && bytes.Contains(line, []byte(`"PodDisruptionBudget"`))) {
				t.Errorf("an item holds %s: %s", gone, line)
			}
		}
	}
	for _, kept := range []string{`"spec":{"replicas":`, `"status":{"observedGeneration":1,"readyReplicas":`,
		`"ownerReferences":[{"kind":"Deployment","name":`, `"nodeInfo":{"kubeletVersion":"v1.35.2"}`,
		`"reason":"KubeletNotReady","message":"container runtime network not ready"`, `"unschedulable":true`,
		`"labels":{"kubernetes.io/service-name":`, `"conditions":{"ready":true}`, `"clientConfig":{"service":{"namespace":`,
		`"allocatable":{"cpu":`} {
		if !bytes.Contains(items, []byte(kept)) {
			t.Errorf("no item holds %s", kept)
		}
	}
}

// Which usages a snapshot leaves out, and which items it says have none
// to leave out; and that reading it back gives every usage again.
func TestImpliedUsages(t *testing.T) {
	svc := func(name string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}
	}
	served := func(name, version, source string) APIUsage {
		return APIUsage{APIVersion: version, Kind: "Service", Namespace: "shop", Name: name, Via: ViaServed, Source: source}
	}
	ref := func(name string) ObjectRef { return ObjectRef{Kind: "Service", Namespace: "shop", Name: name} }
	for _, tc := range []struct {
		name      string
		services  []string
		usages    []APIUsage
		written   []APIUsage
		notServed []ObjectRef
	}{
		{"served at its version", []string{"a"}, []APIUsage{served("a", "v1", "")}, nil, nil},
		{"served from a file", []string{"a"}, []APIUsage{served("a", "v1", "state.yaml")},
			[]APIUsage{served("a", "v1", "state.yaml")}, []ObjectRef{ref("a")}},
		{"served at another version", []string{"a"}, []APIUsage{served("a", "v1beta1", "")},
			[]APIUsage{served("a", "v1beta1", "")}, []ObjectRef{ref("a")}},
		{"seen otherwise too", []string{"a"},
			[]APIUsage{served("a", "v1", ""), {APIVersion: "v1beta1", Kind: "Service", Namespace: "shop", Name: "a", Via: ViaLastApplied}},
			[]APIUsage{{APIVersion: "v1beta1", Kind: "Service", Namespace: "shop", Name: "a", Via: ViaLastApplied}}, nil},
		{"no usage", []string{"a", "b"}, []APIUsage{served("b", "v1", "")}, nil, []ObjectRef{ref("a")}},
		{"listed twice, served twice", []string{"a", "a"}, []APIUsage{served("a", "v1", ""), served("a", "v1", "")}, nil, nil},
		{"listed twice, served once", []string{"a", "a"}, []APIUsage{served("a", "v1", "")}, nil, []ObjectRef{ref("a")}},
		{"not in the snapshot", nil, []APIUsage{served("gone", "v1", "")}, []APIUsage{served("gone", "v1", "")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := &Inventory{APIUsages: slices.Clone(tc.usages)}
			for _, n := range tc.services {
				inv.Services = append(inv.Services, svc(n))
			}
			inv.Sort()
			want := slices.Clone(inv.APIUsages)
			written, notServed := inv.impliedUsages()
			if !slices.Equal(written, tc.written) || !slices.Equal(notServed, tc.notServed) {
				t.Errorf("written %v, not served %v; want %v, %v", written, notServed, tc.written, tc.notServed)
			}
			var snap bytes.Buffer
			if err := inv.WriteSnapshot(&snap); err != nil {
				t.Fatal(err)
			}
			back, err := Read([]string{"-"}, &snap)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.APIUsages, want) {
				t.Errorf("read back %v, want %v", back.APIUsages, want)
			}
		})
	}
}

// everyKind holds one object of every kind but Pod, each with fields its
// kind keeps and fields it does not.
const everyKind = `apiVersion: v1
kind: Namespace
metadata: {name: shop, uid: u1, labels: {team: a}, annotations: {upgate.dev/ignore: "*", note: x}}
spec: {finalizers: [kubernetes]}
status: {phase: Active}
---
apiVersion: v1
kind: Node
metadata: {name: n1, uid: u2, resourceVersion: "7", labels: {kubernetes.io/hostname: n1, node-role.kubernetes.io/control-plane: ""}}
spec:
  unschedulable: true
  providerID: aws:///i-1
  taints: [{key: k, value: v, effect: NoSchedule, timeAdded: "2026-01-01T00:00:00Z"}]
status:
  capacity: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
  allocatable: {cpu: 7890m, memory: 31Gi, pods: "110"}
  conditions:
  - {type: Ready, status: "False", reason: KubeletNotReady, message: not ready, lastHeartbeatTime: "2026-01-01T00:00:00Z"}
  - {type: DiskPressure, status: "False", reason: KubeletHasNoDiskPressure, message: fine}
  addresses: [{type: InternalIP, address: 10.0.0.1}]
  nodeInfo: {machineID: m, bootID: b, kubeletVersion: v1.35.2, kubeProxyVersion: v1.35.2, osImage: linux}
  images: [{names: [app:1], sizeBytes: 1}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, uid: u3}
spec: {type: ExternalName, externalName: web.example.com, clusterIP: 10.1.1.1, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, uid: u4, generation: 2, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: app:1}]}}
  strategy: {type: Recreate}
status: {observedGeneration: 2, replicas: 3, readyReplicas: 2, conditions: [{type: Available, status: "True"}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-1
  namespace: shop
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: web, uid: u4, controller: true, blockOwnerDeletion: true}
  - {apiVersion: v1, kind: ConfigMap, name: other, uid: u9}
spec: {replicas: 0, selector: {matchLabels: {app: web}}, template: {spec: {containers: [{name: c, image: app:1}]}}}
status: {replicas: 0}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec: {replicas: 1, serviceName: db, selector: {matchLabels: {app: db}}, template: {spec: {containers: [{name: c, image: db:1}]}}}
status: {observedGeneration: 1, replicas: 1, readyReplicas: 1, currentRevision: db-1}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec: {selector: {matchLabels: {app: agent}}, template: {spec: {containers: [{name: c, image: agent:1}]}}}
status: {currentNumberScheduled: 2, desiredNumberScheduled: 2, numberReady: 1, numberMisscheduled: 0, observedGeneration: 3}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: report-1
  namespace: shop
  ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: report, uid: u5, controller: true}]
spec: {template: {spec: {containers: [{name: c, image: report:1}], restartPolicy: Never}}}
status: {succeeded: 1}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy, namespace: shop}
spec: {replicas: 2, template: {spec: {containers: [{name: c, image: old:1}]}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec: {selector: {matchLabels: {app: web}}, minAvailable: 50%, unhealthyPodEvictionPolicy: AlwaysAllow}
status:
  observedGeneration: 1
  disruptionsAllowed: 0
  currentHealthy: 2
  desiredHealthy: 2
  expectedPods: 3
  conditions: [{type: DisruptionAllowed, status: "False", reason: InsufficientPods, message: m, lastTransitionTime: "2026-01-01T00:00:00Z"}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-host}
spec: {capacity: {storage: 1Gi}, hostPath: {path: /data, type: Directory}, claimRef: {name: data, namespace: shop}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-nfs}
spec: {nfs: {server: nfs.example.com, path: /export}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
spec: {volumeName: pv-host, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
status: {phase: Bound}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: guard}
webhooks:
- name: a.guard.example.com
  failurePolicy: Ignore
  clientConfig: {service: {namespace: shop, name: guard, path: /v, port: 443}, caBundle: Y2E=}
  sideEffects: None
  admissionReviewVersions: [v1]
- name: b.guard.example.com
  clientConfig: {url: "https://guard.example.com"}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: inject}
webhooks:
- name: inject.example.com
  failurePolicy: Fail
  clientConfig: {service: {namespace: shop, name: inject}}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: guard-x, namespace: shop, labels: {kubernetes.io/service-name: guard, other: x}}
addressType: IPv4
endpoints:
- {addresses: [10.0.0.2], conditions: {ready: true, serving: true}, targetRef: {kind: Pod, name: guard-1, uid: u6}, nodeName: n1}
- {addresses: [10.0.0.3], conditions: {}}
ports: [{port: 443}]
`

// Every kind reads back from a snapshot as what it keeps, and keeps
// nothing but what its Keeps names.
func TestEveryKindKeepsWhatIsRead(t *testing.T) {
	inv, err := Read([]string{"-"}, strings.NewReader(everyKind))
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := inv.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	back, err := Read([]string{"-"}, bytes.NewReader(snap.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	kindsDiffer(t, inv, back)
	for _, gone := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u9", `"team"`, `"note"`, "providerID", "10.0.0",
		"ephemeral-storage", "fine", "machineID", "app:1", "images", "web.example.com", "clusterIP", "Recreate",
		`"status":{"replicas":0}`, "ConfigMap", "db-1", "numberMisscheduled", "succeeded", "InsufficientPods", "storage",
		"nfs.example.com", "Directory", "caBundle", `"path":"/v"`, "443", `"url"`, "sideEffects", `"other"`, "serving", "IPv4", "timeAdded"} {
		if bytes.Contains(snap.Bytes(), []byte(gone)) {
			t.Errorf("the snapshot holds %s", gone)
		}
	}
	for _, kept := range []string{`"upgate.dev/ignore":"*"`, `"node-role.kubernetes.io/control-plane":""`, `"unschedulable":true`,
		`"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]`, `"capacity":{"cpu":"8","memory":"32Gi","pods":"110"}`,
		`{"type":"Ready","status":"False","reason":"KubeletNotReady","message":"not ready"},{"type":"DiskPressure","status":"False"}`,
		`"nodeInfo":{"kubeletVersion":"v1.35.2","kubeProxyVersion":"v1.35.2"}`, `"spec":{"type":"ExternalName"}`,
		`"spec":{"replicas":3},"status":{"observedGeneration":2,"readyReplicas":2}`,
		`"ownerReferences":[{"kind":"Deployment","name":"web","controller":true}]},"spec":{"replicas":0}`,
		`"status":{"observedGeneration":3,"currentNumberScheduled":2,"desiredNumberScheduled":2,"numberReady":1}`,
		`"ownerReferences":[{"kind":"CronJob","name":"report","controller":true}]}}`, `"spec":{"replicas":2}`,
		`"minAvailable":"50%","unhealthyPodEvictionPolicy":"AlwaysAllow"`, `"conditions":[{"type":"DisruptionAllowed","status":"False"}]`,
		`"spec":{"hostPath":{"path":"/data"}}`, `"spec":{"nfs":{}}`, `"spec":{"volumeName":"pv-host"}`,
		`{"name":"a.guard.example.com","failurePolicy":"Ignore","clientConfig":{"service":{"namespace":"shop","name":"guard"}}}`,
		`{"name":"b.guard.example.com","clientConfig":{}}`,
		`"labels":{"kubernetes.io/service-name":"guard"}},"endpoints":[{"conditions":{"ready":true}},{"conditions":{}}]`} {
		if !bytes.Contains(snap.Bytes(), []byte(kept)) {
			t.Errorf("the snapshot lacks %s:\n%s", kept, snap.Bytes())
		}
	}
}
