package inventory_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/synth"
)

// richPod sets every field lean decoding treats specially.
const richPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"rich","namespace":"x",
 "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"x\":1}}",
  "vault.hashicorp.com/agent-inject-token":"s.hunter2","upgate.dev/ignore":"safety.emptydir","kubernetes.io/config.mirror":"abc"},
 "managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"v1alpha9","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]},
 "spec":{"nodeName":"n1",
  "initContainers":[{"name":"i","image":"busybox","command":["sh"],"args":["-c","x"],"env":[{"name":"A","value":"secret"}],
   "restartPolicy":"Always","resources":{"requests":{"cpu":"100m"}},"ports":[{"containerPort":1}],
   "startupProbe":{"exec":{"command":["true"]}},"lifecycle":{"preStop":{"sleep":{"seconds":1}}},
   "volumeMounts":[{"name":"v","mountPath":"/v"}],"volumeDevices":[{"name":"d","devicePath":"/d"}],
   "securityContext":{"privileged":true},"terminationMessagePath":"/t","terminationMessagePolicy":"File"}],
  "containers":[{"name":"c","image":"app:1","env":[{"name":"B","value":"s2","valueFrom":null}],
   "livenessProbe":{"httpGet":{"port":80}},"readinessProbe":{"httpGet":{"port":80}},"resources":{"limits":{"memory":"1Gi"}}}],
  "ephemeralContainers":[{"name":"e","image":"debug","targetContainerName":"c","env":[{"name":"C","value":"s3"}],"command":["sh"],
   "securityContext":{"privileged":true}}],
  "volumes":[{"name":"p","projected":{"defaultMode":420,"sources":[{"serviceAccountToken":{"path":"token"}}]}},
   {"name":"cm","configMap":{"name":"cm","items":[{"key":"a","path":"a"}]}},
   {"name":"s","secret":{"secretName":"s","items":[{"key":"a","path":"a"}]}},
   {"name":"d","downwardAPI":{"items":[{"path":"n","fieldRef":{"fieldPath":"metadata.name"}}]}},
   {"name":"e","emptyDir":{}},{"name":"h","hostPath":{"path":"/h"}},{"name":"c","persistentVolumeClaim":{"claimName":"c"}},
   {"name":"f","flexVolume":{"driver":"x/y","options":{"password":"hunter2"},"secretRef":{"name":"fs"}}},
   {"name":"i","csi":{"driver":"secrets-store.csi.k8s.io","volumeAttributes":{"token":"hunter2"},"nodePublishSecretRef":{"name":"ns"}}}],
  "tolerations":[{"operator":"Exists"}],"nodeSelector":{"a":"b"}},
 "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],
  "initContainerStatuses":[{"name":"i","ready":true,"restartCount":1,"image":"busybox","imageID":"x","containerID":"y",
   "state":{"running":{}},"lastState":{"terminated":{"exitCode":1}},"allocatedResources":{"cpu":"1"},"resources":{},
   "volumeMounts":[{"name":"v","mountPath":"/v"}],"user":{"linux":{"uid":1,"gid":1}},"allocatedResourcesStatus":[{"name":"x"}]}],
  "containerStatuses":[{"name":"c","ready":false,"restartCount":9,"image":"app:1","imageID":"x",
   "state":{"waiting":{"reason":"CrashLoopBackOff"}}}],
  "ephemeralContainerStatuses":[{"name":"e","ready":false,"restartCount":0,"image":"debug","imageID":"z"}]}}`

// TestDecodeMatchesScrub holds lean decoding (Read) to what decoding the
// full types and then scrubbing them gives, on every kind synth makes
// (managedFields included) and on a pod that sets every field lean
// decoding skips.
func TestDecodeMatchesScrub(t *testing.T) {
	var buf bytes.Buffer
	if err := synth.WriteManifests(&buf, synth.Cluster(synth.Options{Nodes: 30, ManagedFields: true}), synth.ManifestOptions{}); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(buf.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	list.Items = append(list.Items, json.RawMessage(richPod))
	doc, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": list.Items})
	if err != nil {
		t.Fatal(err)
	}
	got, err := inventory.Read([]string{"-"}, bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}

	want := &inventory.Inventory{}
	for _, raw := range list.Items {
		var head struct{ Kind string }
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "Pod":
			want.Pods = append(want.Pods, inventory.PodOf(fullPtr[corev1.Pod](t, raw)))
		case "Node":
			want.Nodes = append(want.Nodes, fullPtr[corev1.Node](t, raw))
		case "Deployment":
			want.Deployments = append(want.Deployments, fullPtr[appsv1.Deployment](t, raw))
		case "ReplicaSet":
			want.ReplicaSets = append(want.ReplicaSets, fullPtr[appsv1.ReplicaSet](t, raw))
		case "StatefulSet":
			want.StatefulSets = append(want.StatefulSets, fullPtr[appsv1.StatefulSet](t, raw))
		case "DaemonSet":
			want.DaemonSets = append(want.DaemonSets, fullPtr[appsv1.DaemonSet](t, raw))
		case "Job":
			want.Jobs = append(want.Jobs, fullPtr[batchv1.Job](t, raw))
		case "Service":
			want.Services = append(want.Services, fullPtr[corev1.Service](t, raw))
		case "PodDisruptionBudget":
			want.PodDisruptionBudgets = append(want.PodDisruptionBudgets, fullPtr[policyv1.PodDisruptionBudget](t, raw))
		case "EndpointSlice":
			want.EndpointSlices = append(want.EndpointSlices, fullPtr[discoveryv1.EndpointSlice](t, raw))
		}
	}
	want.Sort()
	check := func(kind string, got, want any, n int) {
		t.Helper()
		if n == 0 {
			t.Errorf("no %s in the test cluster", kind)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: lean decoding differs from decoding and scrubbing", kind)
		}
	}
	check("Pod", got.Pods, want.Pods, len(want.Pods))
	check("Node", got.Nodes, want.Nodes, len(want.Nodes))
	check("Deployment", got.Deployments, want.Deployments, len(want.Deployments))
	check("ReplicaSet", got.ReplicaSets, want.ReplicaSets, len(want.ReplicaSets))
	check("StatefulSet", got.StatefulSets, want.StatefulSets, len(want.StatefulSets))
	check("DaemonSet", got.DaemonSets, want.DaemonSets, len(want.DaemonSets))
	check("Job", got.Jobs, want.Jobs, len(want.Jobs))
	check("Service", got.Services, want.Services, len(want.Services))
	check("PodDisruptionBudget", got.PodDisruptionBudgets, want.PodDisruptionBudgets, len(want.PodDisruptionBudgets))
	check("EndpointSlice", got.EndpointSlices, want.EndpointSlices, len(want.EndpointSlices))
	for i := range got.Pods {
		if !reflect.DeepEqual(got.Pods[i], want.Pods[i]) {
			g, _ := json.Marshal(got.Pods[i])
			w, _ := json.Marshal(want.Pods[i])
			t.Errorf("pod %s:\n lean %s\n full %s", got.Pods[i].Name, g, w)
			break
		}
	}

	// And the API usages lean decoding records are those of the full
	// metadata: the served version plus the managedFields' versions.
	var rich []inventory.APIUsage
	for _, u := range got.APIUsages {
		if u.Name == "rich" {
			rich = append(rich, u)
		}
	}
	if len(rich) != 2 || rich[0].APIVersion != "v1" || rich[0].Via != inventory.ViaServed ||
		rich[1].APIVersion != "v1alpha9" || rich[1].Via != inventory.ViaManagedFields {
		t.Errorf("usages of the rich pod: %+v", rich)
	}
}

func full[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var o T
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	inventory.Scrub(&o)
	return o
}

func fullPtr[T any](t *testing.T, raw []byte) *T {
	t.Helper()
	o := full[T](t, raw)
	return &o
}
