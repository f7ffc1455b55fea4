package synth

import (
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func typesUID(s string) types.UID { return types.UID(s) }

// workloads fills the worker slots with the pods of Deployments (most),
// StatefulSets, Jobs and a few bare pods.
func (g *gen) workloads(slots []*nodeInfo) {
	idx := 0
	for len(slots) > 0 {
		idx++
		ns := g.appNamespace()
		app := fmt.Sprintf("%s-%s-%d", words[g.r.IntN(len(words))], words[g.r.IntN(len(words))], idx)
		kind := pick(g.r, []weighted[string]{{930, "Deployment"}, {40, "StatefulSet"}, {25, "Job"}, {5, "Pod"}})
		var n int
		switch kind {
		case "Deployment":
			n = pick(g.r, []weighted[int]{{6, 1}, {20, 2}, {40, 3}, {10, 4}, {12, 5}, {7, 8}, {4, 12}, {1, 24}})
		case "StatefulSet":
			n = pick(g.r, []weighted[int]{{10, 1}, {70, 3}, {20, 5}})
		case "Job":
			n = 1
		case "Pod":
			n = 1
		}
		n = min(n, len(slots))
		on := slots[:n]
		slots = slots[n:]
		switch kind {
		case "Deployment":
			g.deployment(ns, app, on)
		case "StatefulSet":
			g.statefulSet(ns, app, on)
		case "Job":
			g.job(ns, app, on[0])
		case "Pod":
			t := g.template(app)
			g.pod(ns, app, map[string]string{"app.kubernetes.io/name": app, "run": app}, nil, g.podSpec(t), on[0],
				g.agoDays(1, 60), podRunning)
		}
	}
}

func appLabels(app string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": app, "app.kubernetes.io/managed-by": "Helm"}
}

func helmAnnotations(app, ns string) map[string]string {
	return map[string]string{"meta.helm.sh/release-name": app, "meta.helm.sh/release-namespace": ns}
}

func (g *gen) deployment(ns, app string, nodes []*nodeInfo) {
	created := g.agoDays(2, 180)
	replicas := int32(len(nodes))
	t := g.template(app)
	spec := g.podSpec(t)
	selector := map[string]string{"app.kubernetes.io/name": app}

	m := g.meta(ns, app, created)
	m.Labels, m.Annotations = appLabels(app), helmAnnotations(app, ns)
	m.Annotations["deployment.kubernetes.io/revision"] = "2"
	d := appsv1.Deployment{ObjectMeta: m}
	d.Spec = appsv1.DeploymentSpec{
		Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: selector},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: appLabels(app)}, Spec: spec},
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: ptr(intstr.FromString("25%")), MaxSurge: ptr(intstr.FromString("25%"))}},
		RevisionHistoryLimit: ptr(int32(10)), ProgressDeadlineSeconds: ptr(int32(600)),
	}
	g.managed(&d.ObjectMeta, "helm", "apps/v1", objectFields, "")
	dUID := string(m.UID)

	// The previous ReplicaSet, scaled to zero, then the current one.
	var rs appsv1.ReplicaSet
	for rev, r := range []int32{0, replicas} {
		hash := g.hash(10)
		rm := g.meta(ns, app+"-"+hash, created.Add(time.Duration(rev)*time.Hour))
		rm.Labels = appLabels(app)
		rm.Labels["pod-template-hash"] = hash
		rm.Annotations = map[string]string{
			"deployment.kubernetes.io/desired-replicas": fmt.Sprint(replicas),
			"deployment.kubernetes.io/max-replicas":     fmt.Sprint(replicas + (replicas+3)/4),
			"deployment.kubernetes.io/revision":         fmt.Sprint(rev + 1),
		}
		rm.OwnerReferences = []metav1.OwnerReference{ownerRef("apps/v1", "Deployment", app, dUID)}
		rs = appsv1.ReplicaSet{ObjectMeta: rm}
		sel := map[string]string{"app.kubernetes.io/name": app, "pod-template-hash": hash}
		rs.Spec = appsv1.ReplicaSetSpec{Replicas: ptr(r), Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: rm.Labels}, Spec: spec}}
		rs.Status = appsv1.ReplicaSetStatus{Replicas: r, FullyLabeledReplicas: r, ObservedGeneration: 1}
		g.managed(&rs.ObjectMeta, "kube-controller-manager", "apps/v1", objectFields, "")
		g.st.ReplicaSets = append(g.st.ReplicaSets, ptr(rs))
	}
	rsi := len(g.st.ReplicaSets) - 1
	owner := ownerRef("apps/v1", "ReplicaSet", rs.Name, string(rs.UID))
	ready := int32(0)
	var ips []podAddr
	for _, n := range nodes {
		state := podRunning
		if g.r.IntN(1000) == 0 {
			state = podCrashLooping
		} else {
			ready++
		}
		p := g.pod(ns, rs.Name+"-"+g.hash(5), rs.Labels, &owner, spec, n, created.Add(time.Hour), state)
		ips = append(ips, podAddr{ip: p.Status.PodIP, node: n.name, name: p.Name, uid: string(p.UID), ready: state == podRunning})
	}
	g.st.ReplicaSets[rsi].Status.ReadyReplicas = ready
	g.st.ReplicaSets[rsi].Status.AvailableReplicas = ready
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: replicas, UpdatedReplicas: replicas,
		ReadyReplicas: ready, AvailableReplicas: ready, UnavailableReplicas: replicas - ready,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
				Message: "Deployment has minimum availability.", LastUpdateTime: metav1.NewTime(created), LastTransitionTime: metav1.NewTime(created)},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
				Message:        fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs.Name),
				LastUpdateTime: metav1.NewTime(created.Add(time.Hour)), LastTransitionTime: metav1.NewTime(created)},
		}}
	g.st.Deployments = append(g.st.Deployments, ptr(d))

	if replicas >= 2 && g.r.IntN(2) == 0 {
		g.pdb(ns, app, selector, replicas, ready, g.r.IntN(100) == 0)
	}
	if g.r.IntN(10) < 7 {
		g.service(ns, app, selector, ips)
	}
}

type podAddr struct {
	ip, node, name, uid string
	ready               bool
}

// pdb adds a budget for a workload's pods: maxUnavailable 1, or, when
// blocking, minAvailable equal to the replicas (no disruption allowed).
func (g *gen) pdb(ns, app string, selector map[string]string, replicas, healthy int32, blocking bool) {
	m := g.meta(ns, app, g.agoDays(2, 180))
	m.Labels, m.Annotations = appLabels(app), helmAnnotations(app, ns)
	p := policyv1.PodDisruptionBudget{ObjectMeta: m}
	p.Spec.Selector = &metav1.LabelSelector{MatchLabels: selector}
	desired := replicas - 1
	if blocking {
		p.Spec.MinAvailable = ptr(intstr.FromInt32(replicas))
		desired = replicas
	} else {
		p.Spec.MaxUnavailable = ptr(intstr.FromInt32(1))
	}
	p.Status = policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: 1, DisruptionsAllowed: max(healthy-desired, 0), CurrentHealthy: healthy,
		DesiredHealthy: desired, ExpectedPods: replicas,
		Conditions: []metav1.Condition{{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue,
			Reason: policyv1.SufficientPodsReason, ObservedGeneration: 1, LastTransitionTime: m.CreationTimestamp}},
	}
	if p.Status.DisruptionsAllowed == 0 {
		p.Status.Conditions[0].Status, p.Status.Conditions[0].Reason = metav1.ConditionFalse, policyv1.InsufficientPodsReason
	}
	g.managed(&p.ObjectMeta, "helm", "policy/v1", objectFields, "")
	g.st.PodDisruptionBudgets = append(g.st.PodDisruptionBudgets, ptr(p))
}

// service adds a ClusterIP Service selecting the pods and its EndpointSlice.
func (g *gen) service(ns, app string, selector map[string]string, pods []podAddr) {
	m := g.meta(ns, app, g.agoDays(2, 180))
	m.Generation = 0
	m.Labels, m.Annotations = appLabels(app), helmAnnotations(app, ns)
	s := corev1.Service{ObjectMeta: m}
	ip := fmt.Sprintf("172.20.%d.%d", g.r.IntN(256), 1+g.r.IntN(254))
	s.Spec = corev1.ServiceSpec{
		Type: corev1.ServiceTypeClusterIP, Selector: selector, ClusterIP: ip, ClusterIPs: []string{ip},
		Ports:           []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		SessionAffinity: corev1.ServiceAffinityNone, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
		IPFamilyPolicy: ptr(corev1.IPFamilyPolicySingleStack), InternalTrafficPolicy: ptr(corev1.ServiceInternalTrafficPolicyCluster),
	}
	g.managed(&s.ObjectMeta, "helm", "v1", objectFields, "")
	g.st.Services = append(g.st.Services, ptr(s))

	em := g.meta(ns, app+"-"+g.hash(5), m.CreationTimestamp.Time)
	em.Generation = 0
	em.GenerateName = app + "-"
	em.Labels = map[string]string{
		discoveryv1.LabelServiceName: app, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
		"app.kubernetes.io/name": app,
	}
	em.OwnerReferences = []metav1.OwnerReference{ownerRef("v1", "Service", app, string(m.UID))}
	es := discoveryv1.EndpointSlice{ObjectMeta: em, AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}}}
	for _, p := range pods {
		ready := p.ready
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &ready, Terminating: ptr(false)},
			NodeName:   ptr(p.node),
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p.name, UID: typesUID(p.uid)},
		})
	}
	g.managed(&es.ObjectMeta, "endpointslice-controller.k8s.io", "discovery.k8s.io/v1", objectFields, "")
	g.st.EndpointSlices = append(g.st.EndpointSlices, ptr(es))
}

// statefulSet adds a StatefulSet whose pods each have a claim bound to a
// PersistentVolume (CSI mostly; now and then a local volume, which pins
// the pod's data to its node).
func (g *gen) statefulSet(ns, app string, nodes []*nodeInfo) {
	created := g.agoDays(10, 300)
	replicas := int32(len(nodes))
	t := g.template(app)
	t.emptyDir = false
	spec := g.podSpec(t)
	spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})
	selector := map[string]string{"app.kubernetes.io/name": app}
	m := g.meta(ns, app, created)
	m.Labels, m.Annotations = appLabels(app), helmAnnotations(app, ns)
	local := g.r.IntN(15) == 0
	class := "gp3"
	if local {
		class = "local-storage"
	}
	s := appsv1.StatefulSet{ObjectMeta: m}
	s.Spec = appsv1.StatefulSetSpec{
		Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: selector}, ServiceName: app,
		Template:            corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: appLabels(app)}, Spec: spec},
		PodManagementPolicy: appsv1.OrderedReadyPodManagement,
		UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(0))}},
		RevisionHistoryLimit: ptr(int32(10)),
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: &class, VolumeMode: ptr(corev1.PersistentVolumeFilesystem),
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQ("20Gi")}}},
		}},
	}
	g.managed(&s.ObjectMeta, "helm", "apps/v1", objectFields, "")
	hash := app + "-" + g.hash(10)
	owner := ownerRef("apps/v1", "StatefulSet", app, string(m.UID))
	ready := int32(0)
	for i, n := range nodes {
		name := fmt.Sprintf("%s-%d", app, i)
		claim := "data-" + name
		pvName := "pvc-" + g.uid()
		ps := spec
		ps.Hostname, ps.Subdomain = name, app
		ps.Volumes = append([]corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}, spec.Volumes...)
		pl := appLabels(app)
		pl["controller-revision-hash"] = hash
		pl["statefulset.kubernetes.io/pod-name"] = name
		pl["apps.kubernetes.io/pod-index"] = fmt.Sprint(i)
		state := podRunning
		if g.r.IntN(1000) == 0 {
			state = podCrashLooping
		} else {
			ready++
		}
		g.pod(ns, name, pl, &owner, ps, n, created.Add(time.Duration(i)*time.Minute), state)
		g.claim(ns, claim, pvName, class, n, local, created)
	}
	s.Status = appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: replicas, ReadyReplicas: ready, CurrentReplicas: replicas,
		UpdatedReplicas: replicas, AvailableReplicas: ready, CurrentRevision: hash, UpdateRevision: hash, CollisionCount: ptr(int32(0))}
	g.st.StatefulSets = append(g.st.StatefulSets, ptr(s))
	if replicas >= 2 {
		g.pdb(ns, app, selector, replicas, ready, false)
	}
}

// claim adds a bound PersistentVolumeClaim and its PersistentVolume.
func (g *gen) claim(ns, name, pvName, class string, n *nodeInfo, local bool, created time.Time) {
	m := g.meta(ns, name, created)
	m.Generation = 0
	m.Labels = map[string]string{"app.kubernetes.io/name": name}
	m.Annotations = map[string]string{"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}
	m.Finalizers = []string{"kubernetes.io/pvc-protection"}
	size := mustQ("20Gi")
	c := corev1.PersistentVolumeClaim{ObjectMeta: m}
	c.Spec = corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		StorageClassName: &class, VolumeMode: ptr(corev1.PersistentVolumeFilesystem), VolumeName: pvName,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}}}
	c.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: c.Spec.AccessModes,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: size}}
	g.managed(&c.ObjectMeta, "kube-controller-manager", "v1", objectFields, "")
	g.st.PersistentVolumeClaims = append(g.st.PersistentVolumeClaims, ptr(c))

	pm := g.meta("", pvName, created)
	pm.Generation = 0
	pm.Finalizers = []string{"kubernetes.io/pv-protection"}
	pv := corev1.PersistentVolume{ObjectMeta: pm}
	pv.Spec = corev1.PersistentVolumeSpec{
		Capacity: corev1.ResourceList{corev1.ResourceStorage: size}, AccessModes: c.Spec.AccessModes,
		ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: name, UID: m.UID,
			APIVersion: "v1", ResourceVersion: m.ResourceVersion},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete, StorageClassName: class,
		VolumeMode: ptr(corev1.PersistentVolumeFilesystem),
	}
	if local {
		pv.Spec.PersistentVolumeSource = corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disks/" + pvName}}
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{n.name}}},
		}}}}
	} else {
		pv.Annotations = map[string]string{"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}
		pv.Spec.PersistentVolumeSource = corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
			Driver: "ebs.csi.aws.com", VolumeHandle: fmt.Sprintf("vol-%017x", g.r.Uint64()>>4), FSType: "ext4",
			VolumeAttributes: map[string]string{"storage.kubernetes.io/csiProvisionerIdentity": "1730000000000-7390-ebs.csi.aws.com"},
		}}
	}
	pv.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}
	g.managed(&pv.ObjectMeta, "csi-provisioner", "v1", objectFields, "")
	g.st.PersistentVolumes = append(g.st.PersistentVolumes, ptr(pv))
}

// job adds a completed Job and its Succeeded pod.
func (g *gen) job(ns, app string, n *nodeInfo) {
	created := g.agoDays(0, 2)
	t := g.template(app)
	t.ports = false
	spec := g.podSpec(t)
	spec.RestartPolicy = corev1.RestartPolicyNever
	m := g.meta(ns, app, created)
	m.Labels = appLabels(app)
	j := batchv1.Job{ObjectMeta: m}
	sel := map[string]string{"batch.kubernetes.io/controller-uid": string(m.UID)}
	pl := map[string]string{"batch.kubernetes.io/controller-uid": string(m.UID), "batch.kubernetes.io/job-name": app,
		"controller-uid": string(m.UID), "job-name": app}
	j.Spec = batchv1.JobSpec{Parallelism: ptr(int32(1)), Completions: ptr(int32(1)), BackoffLimit: ptr(int32(6)),
		Selector: &metav1.LabelSelector{MatchLabels: sel}, CompletionMode: ptr(batchv1.NonIndexedCompletion),
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: pl}, Spec: spec}}
	start := metav1.NewTime(created)
	done := metav1.NewTime(created.Add(45 * time.Second))
	j.Status = batchv1.JobStatus{StartTime: &start, CompletionTime: &done, Succeeded: 1, Ready: ptr(int32(0)), Terminating: ptr(int32(0)),
		Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastProbeTime: done, LastTransitionTime: done},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastProbeTime: done, LastTransitionTime: done},
		}}
	g.managed(&j.ObjectMeta, "kube-controller-manager", "batch/v1", objectFields, "")
	g.st.Jobs = append(g.st.Jobs, ptr(j))
	owner := ownerRef("batch/v1", "Job", app, string(m.UID))
	g.pod(ns, app+"-"+g.hash(5), pl, &owner, spec, n, created, podSucceeded)
}

// webhooks adds a validating webhook that fails closed (its service has
// ready endpoints) and a mutating one that fails open. Their rules match
// only a group no cluster serves, so applying them to a live cluster never
// makes the API server call them.
func (g *gen) webhooks() {
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{"synth.upgate.dev"}, APIVersions: []string{"v1"},
			Resources: []string{"widgets"}, Scope: ptr(admissionregistrationv1.AllScopes)},
	}}
	none := admissionregistrationv1.SideEffectClassNone
	fail, ignore := admissionregistrationv1.Fail, admissionregistrationv1.Ignore
	svc := func(name string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
			Namespace: "kube-system", Name: name, Path: ptr("/validate"), Port: ptr(int32(443))}}
	}
	vm := g.meta("", "policy-guard", g.agoDays(30, 90))
	g.st.ValidatingWebhooks = append(g.st.ValidatingWebhooks, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: vm,
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.policy-guard.synth.upgate.dev", ClientConfig: svc("policy-guard"), Rules: rules,
			FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: ptr(int32(10)),
			MatchPolicy: ptr(admissionregistrationv1.Equivalent), NamespaceSelector: &metav1.LabelSelector{}, ObjectSelector: &metav1.LabelSelector{},
		}},
	})
	mm := g.meta("", "sidecar-injector", g.agoDays(30, 90))
	g.st.MutatingWebhooks = append(g.st.MutatingWebhooks, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: mm,
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "inject.sidecar-injector.synth.upgate.dev", ClientConfig: svc("sidecar-injector"), Rules: rules,
			FailurePolicy: &ignore, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, TimeoutSeconds: ptr(int32(10)),
			MatchPolicy: ptr(admissionregistrationv1.Equivalent), NamespaceSelector: &metav1.LabelSelector{}, ObjectSelector: &metav1.LabelSelector{},
			ReinvocationPolicy: ptr(admissionregistrationv1.NeverReinvocationPolicy),
		}},
	})
	// The validating webhook's backend: a Deployment with ready pods
	// would need worker slots; a Service with a ready endpoint on a
	// control-plane node is enough for the check.
	cp := &nodeInfo{name: g.st.Nodes[0].Name, cidr: [3]int{10, 96, 0}}
	g.service("kube-system", "policy-guard", map[string]string{"app.kubernetes.io/name": "policy-guard"},
		[]podAddr{{ip: cp.podIP(), node: cp.name, name: "policy-guard-0", uid: g.uid(), ready: true}})
}
