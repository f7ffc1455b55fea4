package synth

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// nodeInfo is what build knows of each node while placing pods.
type nodeInfo struct {
	name   string
	ip     string // InternalIP; empty for kwok nodes
	cidr   [3]int // pod CIDR a.b.c.0/24
	nextIP int
	cp     bool
}

func (n *nodeInfo) podIP() string {
	n.nextIP++
	return fmt.Sprintf("%d.%d.%d.%d", n.cidr[0], n.cidr[1], n.cidr[2], 2+n.nextIP%250)
}

func (g *gen) build() {
	o := g.o
	total := o.Nodes * o.PodsPerNode
	cps := 1
	if o.Nodes >= 6 {
		cps = 3
	}
	nodes := make([]*nodeInfo, 0, o.Nodes)
	for i := 0; i < o.Nodes; i++ {
		n := &nodeInfo{cp: i < cps}
		if n.cp {
			n.name = fmt.Sprintf("cp-%d", i+1)
		} else {
			n.name = fmt.Sprintf("node-%05d", i-cps+1)
		}
		if o.Kwok {
			n.cidr = [3]int{127, 1 + i/256, i % 256}
		} else {
			n.ip = fmt.Sprintf("10.0.%d.%d", i/250, 4+i%250)
			n.cidr = [3]int{10, 64 + i/256, i % 256}
		}
		nodes = append(nodes, n)
	}
	g.namespaces()
	for i, n := range nodes {
		g.node(n, i)
	}
	for _, n := range nodes[:cps] {
		g.mirrorPods(n)
	}
	g.daemonSet("kube-system", "kube-proxy", "registry.k8s.io/kube-proxy:"+o.Version, nodes)
	g.daemonSet("monitoring", "node-exporter", "quay.io/prometheus/node-exporter:v1.9.1", nodes)

	// Worker slots, one per pod still to place, shuffled so that a
	// workload's pods land on different nodes.
	workers := nodes[cps:]
	left := max(total-len(g.st.Pods), 0)
	slots := make([]*nodeInfo, 0, left)
	for i := 0; i < left; i++ {
		slots = append(slots, workers[i%len(workers)])
	}
	g.r.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	g.workloads(slots)
	g.webhooks()
}

// ---------------------------------------------------------------- names

var words = []string{
	"api", "auth", "billing", "cart", "catalog", "checkout", "search", "ledger", "orders", "payments",
	"profile", "ranking", "recommend", "shipping", "stock", "users", "gateway", "notify", "media", "report",
	"session", "pricing", "quote", "review", "feed", "index", "export", "import", "audit", "events",
}

var teams = []string{"shop", "data", "risk", "growth", "infra", "mobile", "web", "ml", "ops", "core"}

func (g *gen) appNamespace() string {
	i := g.r.IntN(g.o.Namespaces)
	return fmt.Sprintf("%s-%03d", teams[i%len(teams)], i)
}

// ---------------------------------------------------------------- metadata

func (g *gen) meta(namespace, name string, created time.Time) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace: namespace, Name: name, UID: typesUID(g.uid()),
		ResourceVersion: g.resourceVersion(), Generation: 1,
		CreationTimestamp: metav1.NewTime(created),
	}
}

func ownerRef(apiVersion, kind, name, uid string) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: typesUID(uid), Controller: &t, BlockOwnerDeletion: &t}
}

// managed adds a managedFields entry when asked for: the field set is a
// plausible FieldsV1 of the object's size, which is what matters here.
func (g *gen) managed(m *metav1.ObjectMeta, manager, apiVersion string, fields string, subresource string) {
	if !g.o.ManagedFields {
		return
	}
	m.ManagedFields = append(m.ManagedFields, metav1.ManagedFieldsEntry{
		Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: apiVersion,
		Time: &m.CreationTimestamp, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)},
		Subresource: subresource,
	})
}

const podSpecFields = `{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"%s\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"%s\"}":{".":{},"f:env":{".":{},"k:{\"name\":\"LOG_LEVEL\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"POD_NAME\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:fieldRef":{}}}},"f:image":{},"f:imagePullPolicy":{},"f:livenessProbe":{".":{},"f:failureThreshold":{},"f:httpGet":{".":{},"f:path":{},"f:port":{},"f:scheme":{}},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:readinessProbe":{".":{},"f:failureThreshold":{},"f:httpGet":{".":{},"f:path":{},"f:port":{},"f:scheme":{}},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:resources":{".":{},"f:limits":{".":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:securityContext":{".":{},"f:allowPrivilegeEscalation":{},"f:readOnlyRootFilesystem":{},"f:runAsNonRoot":{}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}`

const podStatusFields = `{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"PodReadyToStartContainers\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:hostIPs":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"%s\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}`

const objectFields = `{"f:metadata":{"f:annotations":{".":{},"f:meta.helm.sh/release-name":{},"f:meta.helm.sh/release-namespace":{}},"f:labels":{".":{},"f:app.kubernetes.io/managed-by":{},"f:app.kubernetes.io/name":{}}},"f:spec":{}}`

// ---------------------------------------------------------------- namespaces and nodes

func (g *gen) namespaces() {
	names := []string{"default", "kube-system", "kube-public", "kube-node-lease", "monitoring"}
	for i := 0; i < g.o.Namespaces; i++ {
		names = append(names, fmt.Sprintf("%s-%03d", teams[i%len(teams)], i))
	}
	for _, n := range names {
		ns := corev1.Namespace{ObjectMeta: g.meta("", n, g.agoDays(200, 400))}
		ns.Generation = 0
		ns.Labels = map[string]string{"kubernetes.io/metadata.name": n}
		ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		ns.Status.Phase = corev1.NamespaceActive
		g.managed(&ns.ObjectMeta, "kubectl-create", "v1", objectFields, "")
		g.st.Namespaces = append(g.st.Namespaces, ptr(ns))
	}
}

var zones = []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}

func (g *gen) node(n *nodeInfo, i int) {
	o := g.o
	created := g.agoDays(20, 200)
	m := g.meta("", n.name, created)
	m.Generation = 0
	zone := zones[i%len(zones)]
	m.Labels = map[string]string{
		"kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
		"node.kubernetes.io/instance-type": "m6i.4xlarge",
		"topology.kubernetes.io/region":    "eu-west-1", "topology.kubernetes.io/zone": zone,
	}
	m.Annotations = map[string]string{
		"node.alpha.kubernetes.io/ttl":                           "0",
		"volumes.kubernetes.io/controller-managed-attach-detach": "true",
		"kubeadm.alpha.kubernetes.io/cri-socket":                 "unix:///var/run/containerd/containerd.sock",
	}
	if o.Kwok {
		m.Annotations["kwok.x-k8s.io/node"] = "fake"
		m.Labels["type"] = "kwok"
	}
	kubelet := o.Version
	if !n.cp && g.r.IntN(20) == 0 {
		kubelet = previousMinor(o.Version)
	}
	node := corev1.Node{ObjectMeta: m}
	cidr := fmt.Sprintf("%d.%d.%d.0/24", n.cidr[0], n.cidr[1], n.cidr[2])
	node.Spec.PodCIDR, node.Spec.PodCIDRs = cidr, []string{cidr}
	if !o.Kwok {
		node.Spec.ProviderID = fmt.Sprintf("aws:///%s/i-%017x", zone, g.r.Uint64()>>4)
	}
	cpuCap, memCap := "16", "64698112Ki"
	if n.cp {
		m.Labels[inventory.LabelControlPlane] = ""
		m.Labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
		node.Labels = m.Labels
		node.Spec.Taints = []corev1.Taint{{Key: inventory.LabelControlPlane, Effect: corev1.TaintEffectNoSchedule}}
		cpuCap, memCap = "8", "32408124Ki"
	}
	node.Status.Capacity = corev1.ResourceList{
		corev1.ResourceCPU: mustQ(cpuCap), corev1.ResourceMemory: mustQ(memCap), corev1.ResourcePods: mustQ("110"),
		corev1.ResourceEphemeralStorage: mustQ("104845292Ki"), "hugepages-2Mi": mustQ("0"),
	}
	allocMem := mustQ(memCap)
	allocMem.Sub(mustQ("1Gi"))
	node.Status.Allocatable = corev1.ResourceList{
		corev1.ResourceCPU: cpuMinus(cpuCap, "110m"), corev1.ResourceMemory: allocMem, corev1.ResourcePods: mustQ("110"),
		corev1.ResourceEphemeralStorage: mustQ("96625420948"), "hugepages-2Mi": mustQ("0"),
	}
	hb := metav1.NewTime(ago(time.Duration(g.r.IntN(40)) * time.Second))
	trans := metav1.NewTime(created.Add(90 * time.Second))
	ready := corev1.ConditionTrue
	readyReason, readyMsg := "KubeletReady", "kubelet is posting ready status"
	if !n.cp && !o.Kwok && g.r.IntN(1000) == 0 {
		ready, readyReason, readyMsg = corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status."
		node.Spec.Taints = append(node.Spec.Taints,
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &hb})
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, LastHeartbeatTime: hb, LastTransitionTime: trans, Reason: reason, Message: msg}
	}
	node.Status.Conditions = []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(corev1.NodeReady, ready, readyReason, readyMsg),
	}
	if !o.Kwok {
		node.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.ip},
			{Type: corev1.NodeHostName, Address: n.name},
			{Type: corev1.NodeInternalDNS, Address: fmt.Sprintf("ip-%s.eu-west-1.compute.internal", strings.ReplaceAll(n.ip, ".", "-"))},
		}
	}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = 10250
	node.Status.NodeInfo = corev1.NodeSystemInfo{
		MachineID: strings.ReplaceAll(g.uid(), "-", ""), SystemUUID: g.uid(), BootID: g.uid(),
		KernelVersion: "6.8.0-1021-aws", OSImage: "Ubuntu 24.04.1 LTS", ContainerRuntimeVersion: "containerd://2.0.5",
		KubeletVersion: kubelet, OperatingSystem: "linux", Architecture: "amd64",
	}
	for k, img := range nodeImages {
		node.Status.Images = append(node.Status.Images, corev1.ContainerImage{
			Names:     []string{fmt.Sprintf("%s@sha256:%064x", img, k+1), img},
			SizeBytes: int64(20_000_000 + 3_000_000*k),
		})
	}
	g.managed(&node.ObjectMeta, "kubelet", "v1", objectFields, "status")
	g.st.Nodes = append(g.st.Nodes, ptr(node))
}

var nodeImages = []string{
	"registry.k8s.io/kube-proxy:v1.35.2", "quay.io/prometheus/node-exporter:v1.9.1", "registry.k8s.io/pause:3.10",
	"registry.example.com/shop/app:1.42.0", "registry.example.com/shop/app:1.41.3", "docker.io/envoyproxy/envoy:v1.33.2",
	"registry.k8s.io/coredns/coredns:v1.12.0", "docker.io/library/redis:7.4", "docker.io/library/postgres:17.2",
}

func cpuMinus(a, b string) resource.Quantity {
	q := mustQ(a)
	q.Sub(mustQ(b))
	return q
}

// previousMinor is v's previous minor at patch 4 (v1.35.2 -> v1.34.4).
func previousMinor(v string) string {
	pv, err := kubever.Parse(v)
	if err != nil || pv.Minor() == 0 {
		return v
	}
	return fmt.Sprintf("v%d.%d.4", pv.Major(), pv.Minor()-1)
}

// ---------------------------------------------------------------- pods

// podTemplate describes the pods of one workload.
type podTemplate struct {
	app        string
	image      string
	cpu, mem   string
	sidecar    bool
	emptyDir   bool
	hostPath   bool
	ports      bool
	tolerateCP bool
}

func (g *gen) template(app string) podTemplate {
	return podTemplate{
		app:   app,
		image: fmt.Sprintf("registry.example.com/%s/%s:1.%d.%d", app, app, g.r.IntN(50), g.r.IntN(10)),
		cpu: pick(g.r, []weighted[string]{
			{15, "50m"}, {25, "100m"}, {25, "200m"}, {15, "250m"}, {12, "500m"}, {8, "1"},
		}),
		mem: pick(g.r, []weighted[string]{
			{10, "64Mi"}, {25, "128Mi"}, {30, "256Mi"}, {20, "512Mi"}, {10, "1Gi"}, {5, "2Gi"},
		}),
		sidecar:  g.r.IntN(5) == 0,
		emptyDir: g.r.IntN(12) == 0,
		hostPath: g.r.IntN(400) == 0,
		ports:    true,
	}
}

func (g *gen) podSpec(t podTemplate) corev1.PodSpec {
	grace := int64(30)
	no, yes := false, true
	memLimit := mustQ(t.mem)
	memLimit.Add(mustQ(t.mem))
	c := corev1.Container{
		Name: "app", Image: t.image, ImagePullPolicy: corev1.PullIfNotPresent,
		Env: []corev1.EnvVar{
			{Name: "LOG_LEVEL", Value: "info"},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: mustQ(t.cpu), corev1.ResourceMemory: mustQ(t.mem)},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: memLimit},
		},
		TerminationMessagePath: corev1.TerminationMessagePathDefault, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes, RunAsNonRoot: &yes},
		VolumeMounts:    []corev1.VolumeMount{{Name: "kube-api-access", ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}},
	}
	if t.ports {
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
		probe := &corev1.Probe{
			ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}},
			TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
		}
		c.LivenessProbe, c.ReadinessProbe = probe, probe
	}
	spec := corev1.PodSpec{
		Containers: []corev1.Container{c}, RestartPolicy: corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: &grace, DNSPolicy: corev1.DNSClusterFirst,
		ServiceAccountName: "default", DeprecatedServiceAccount: "default",
		SecurityContext: &corev1.PodSecurityContext{}, SchedulerName: corev1.DefaultSchedulerName,
		EnableServiceLinks: &no, PreemptionPolicy: ptr(corev1.PreemptLowerPriority), Priority: ptr(int32(0)),
		Tolerations: []corev1.Toleration{
			{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
		},
		Volumes: []corev1.Volume{kubeAPIAccess()},
	}
	if t.sidecar {
		spec.Containers = append(spec.Containers, corev1.Container{
			Name: "envoy", Image: "docker.io/envoyproxy/envoy:v1.33.2", ImagePullPolicy: corev1.PullIfNotPresent,
			Args: []string{"--config-path", "/etc/envoy/envoy.yaml", "--log-level", "warn"},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: mustQ("50m"), corev1.ResourceMemory: mustQ("64Mi")},
			},
			TerminationMessagePath: corev1.TerminationMessagePathDefault, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		})
	}
	if t.emptyDir {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "cache", MountPath: "/cache"})
	}
	if t.hostPath {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "host-logs",
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log", Type: ptr(corev1.HostPathDirectory)}}})
	}
	if t.tolerateCP {
		spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	}
	return spec
}

func kubeAPIAccess() corev1.Volume {
	mode := int32(0o644)
	exp := int64(3607)
	return corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: &exp, Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}
}

func ptr[T any](v T) *T { return &v }

// podState is how a generated pod is doing.
type podState int

const (
	podRunning podState = iota
	podCrashLooping
	podSucceeded
)

// pod builds one pod of a workload on node n.
func (g *gen) pod(namespace, name string, labels map[string]string, owner *metav1.OwnerReference, spec corev1.PodSpec,
	n *nodeInfo, created time.Time, state podState) corev1.Pod {
	m := g.meta(namespace, name, created)
	m.Generation = 0
	m.Labels = labels
	if owner != nil {
		m.OwnerReferences = []metav1.OwnerReference{*owner}
		m.GenerateName = strings.TrimSuffix(name, name[strings.LastIndexByte(name, '-')+1:])
	}
	spec.NodeName = n.name
	p := corev1.Pod{ObjectMeta: m, Spec: spec}
	ip := n.podIP()
	if spec.HostNetwork {
		ip = n.ip
	}
	started := metav1.NewTime(created.Add(2 * time.Second))
	ready := corev1.ConditionTrue
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, HostIP: n.ip, PodIP: ip, StartTime: &started, QOSClass: corev1.PodQOSBurstable,
	}
	if n.ip != "" {
		p.Status.HostIPs = []corev1.HostIP{{IP: n.ip}}
	}
	if ip != "" {
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	for _, c := range spec.Containers {
		cs := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: fmt.Sprintf("%s@sha256:%064x", c.Image[:strings.LastIndexByte(c.Image, ':')], len(c.Image)),
			ContainerID: fmt.Sprintf("containerd://%016x%016x%016x%016x", g.r.Uint64(), g.r.Uint64(), g.r.Uint64(), g.r.Uint64()),
			Ready:       true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(created.Add(4 * time.Second))}},
		}
		switch state {
		case podCrashLooping:
			if c.Name == spec.Containers[0].Name {
				cs.Ready, cs.Started, cs.RestartCount = false, ptr(false), int32(7+g.r.IntN(40))
				cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
					Reason: "CrashLoopBackOff", Message: "back-off 5m0s restarting failed container=app pod=" + name,
				}}
				cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 1, Reason: "Error", StartedAt: started, FinishedAt: started,
				}}
				ready = corev1.ConditionFalse
			}
		case podSucceeded:
			cs.Ready, cs.Started = false, ptr(false)
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: metav1.NewTime(created.Add(40 * time.Second)),
			}}
			ready = corev1.ConditionFalse
			p.Status.Phase = corev1.PodSucceeded
		}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, cs)
	}
	ct := metav1.NewTime(created.Add(time.Second))
	rt := metav1.NewTime(created.Add(9 * time.Second))
	p.Status.Conditions = []corev1.PodCondition{
		{Type: "PodReadyToStartContainers", Status: corev1.ConditionTrue, LastTransitionTime: rt},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: ct},
		{Type: corev1.PodReady, Status: ready, LastTransitionTime: rt},
		{Type: corev1.ContainersReady, Status: ready, LastTransitionTime: rt},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: ct},
	}
	if owner != nil {
		g.managed(&p.ObjectMeta, "kube-controller-manager", "v1", fmt.Sprintf(podSpecFields, owner.UID, spec.Containers[0].Name), "")
	} else {
		g.managed(&p.ObjectMeta, "kubectl-create", "v1", fmt.Sprintf(podSpecFields, "none", spec.Containers[0].Name), "")
	}
	g.managed(&p.ObjectMeta, "kubelet", "v1", fmt.Sprintf(podStatusFields, ip), "status")
	g.st.Pods = append(g.st.Pods, ptr(p))
	return p
}

// mirrorPods are a kubeadm control-plane node's static pods.
func (g *gen) mirrorPods(n *nodeInfo) {
	node := g.st.Nodes[len(g.st.Nodes)-1]
	for i := range g.st.Nodes {
		if g.st.Nodes[i].Name == n.name {
			node = g.st.Nodes[i]
		}
	}
	for _, c := range []struct{ component, image string }{
		{inventory.ComponentEtcd, "registry.k8s.io/etcd:3.6.4-0"},
		{inventory.ComponentAPIServer, "registry.k8s.io/kube-apiserver:" + g.o.Version},
		{inventory.ComponentControllerManager, "registry.k8s.io/kube-controller-manager:" + g.o.Version},
		{inventory.ComponentScheduler, "registry.k8s.io/kube-scheduler:" + g.o.Version},
	} {
		t := podTemplate{app: c.component, image: c.image, cpu: "250m", mem: "256Mi"}
		spec := g.podSpec(t)
		spec.HostNetwork = true
		spec.PriorityClassName, spec.Priority = "system-node-critical", ptr(int32(2000001000))
		spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
		spec.Volumes = []corev1.Volume{{Name: "k8s-certs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: "/etc/kubernetes/pki", Type: ptr(corev1.HostPathDirectoryOrCreate)}}}}
		spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "k8s-certs", ReadOnly: true, MountPath: "/etc/kubernetes/pki"}}
		spec.Containers[0].Command = []string{c.component, "--v=2"}
		spec.Containers[0].Env = nil
		// A static pod has no service account (the API server refuses a
		// mirror pod that names one).
		spec.ServiceAccountName, spec.DeprecatedServiceAccount = "", ""
		owner := ownerRef("v1", "Node", n.name, string(node.UID))
		owner.BlockOwnerDeletion = nil
		name := c.component + "-" + n.name
		p := g.pod("kube-system", name, map[string]string{"component": c.component, "tier": "control-plane"},
			&owner, spec, n, node.CreationTimestamp.Time, podRunning)
		last := g.st.Pods[len(g.st.Pods)-1]
		last.GenerateName = ""
		last.Annotations = map[string]string{
			"kubernetes.io/config.hash":   fmt.Sprintf("%032x", g.r.Uint64()),
			"kubernetes.io/config.mirror": fmt.Sprintf("%032x", g.r.Uint64()),
			"kubernetes.io/config.source": "file",
		}
		_ = p
	}
}

// daemonSet runs one pod on every node.
func (g *gen) daemonSet(namespace, name, image string, nodes []*nodeInfo) {
	created := g.agoDays(150, 200)
	m := g.meta(namespace, name, created)
	labels := map[string]string{"k8s-app": name, "app.kubernetes.io/name": name}
	m.Labels = labels
	t := podTemplate{app: name, image: image, cpu: "100m", mem: "64Mi", tolerateCP: true}
	spec := g.podSpec(t)
	spec.PriorityClassName, spec.Priority = "system-node-critical", ptr(int32(2000001000))
	spec.HostNetwork = name == "node-exporter"
	if name == "kube-proxy" {
		spec.Volumes = append(spec.Volumes,
			corev1.Volume{Name: "xtables-lock", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: "/run/xtables.lock", Type: ptr(corev1.HostPathFileOrCreate)}}})
		spec.Containers[0].Command = []string{"/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"}
	}
	hash := g.hash(10)
	ds := appsv1.DaemonSet{ObjectMeta: m}
	ds.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": name}}
	ds.Spec.Template = corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr(intstr.FromInt32(1)), MaxSurge: ptr(intstr.FromInt32(0))}}
	ds.Spec.RevisionHistoryLimit = ptr(int32(10))
	n32 := int32(len(nodes))
	ds.Status = appsv1.DaemonSetStatus{CurrentNumberScheduled: n32, DesiredNumberScheduled: n32, NumberReady: n32,
		NumberAvailable: n32, UpdatedNumberScheduled: n32, ObservedGeneration: 1}
	g.managed(&ds.ObjectMeta, "kubectl-client-side-apply", "apps/v1", objectFields, "")
	g.st.DaemonSets = append(g.st.DaemonSets, ptr(ds))
	owner := ownerRef("apps/v1", "DaemonSet", name, string(m.UID))
	for _, n := range nodes {
		pl := map[string]string{"k8s-app": name, "app.kubernetes.io/name": name, "controller-revision-hash": hash, "pod-template-generation": "1"}
		ps := spec
		ps.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
				Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{n.name}}}}}}}}
		g.pod(namespace, name+"-"+g.hash(5), pl, &owner, ps, n, created, podRunning)
	}
}
