//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ccmDeployment is a cloud-controller-manager as a provider installs it:
// a kube-system Deployment labelled component=cloud-controller-manager on
// the control-plane nodes, at the server's version. kwok runs its pods.
const ccmDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cloud-controller-manager
  namespace: kube-system
  labels: {component: cloud-controller-manager}
spec:
  replicas: 2
  selector: {matchLabels: {component: cloud-controller-manager}}
  template:
    metadata: {labels: {component: cloud-controller-manager}}
    spec:
      nodeSelector: {node-role.kubernetes.io/control-plane: ""}
      tolerations: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]
      containers:
      - name: cloud-controller-manager
        image: registry.k8s.io/cloud-controller-manager:` + seededServer + `
`

// runRecord is the part of the Run record this test reads.
type runRecord struct {
	Verdict string `json:"verdict"`
	Nodes   []struct {
		Name  string `json:"name"`
		Stage string `json:"stage"`
		Steps []struct {
			Name  string    `json:"name"`
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"steps"`
	} `json:"nodes"`
	Stages []struct {
		Hop     string    `json:"hop"`
		Stage   string    `json:"stage"`
		Start   time.Time `json:"start"`
		End     time.Time `json:"end"`
		Result  string    `json:"result"`
		Message string    `json:"message"`
	} `json:"stages"`
}

// TestRunMovesTheCCMBeforeWorkers: with a cloud-controller-manager
// Deployment at v1.36.3, `run --dry-run` says what the stage would do and
// changes nothing; `run --driver kwok` moves the Deployment's image tag to
// the target in the cloud-controller-manager stage, after every
// control-plane node and before any worker is touched.
func TestRunMovesTheCCMBeforeWorkers(t *testing.T) {
	cfg := runConfig(t)
	t.Cleanup(func() { restoreCluster(t) })
	t.Cleanup(func() {
		kubectl(t, "", "-n", "kube-system", "delete", "deployment", "cloud-controller-manager", "--ignore-not-found", "--wait=true")
	})
	// The hazards block any run; this test is about the stage order.
	kubectl(t, "", "delete", "namespace", "hazards", "--ignore-not-found", "--wait=true")
	setKubelet(t, "worker-3", seededKubelet)
	kubectl(t, ccmDeployment, "apply", "-f", "-")
	kubectl(t, "", "-n", "kube-system", "rollout", "status", "deployment/cloud-controller-manager", "--timeout=90s")
	ccmImage := func() string {
		return kubectl(t, "", "-n", "kube-system", "get", "deployment", "cloud-controller-manager", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	}

	// The check the workers wait on fires now, for each CCM pod.
	ccmFindings := func() int {
		n := 0
		for _, f := range liveReport(t, "--config", cfg, "--target", runTarget).Findings {
			if f.Check == "addon.ccm-behind-target" && f.Subject.Namespace == "kube-system" && strings.HasPrefix(f.Subject.Name, "cloud-controller-manager-") {
				n++
			}
		}
		return n
	}
	if n := ccmFindings(); n != 2 {
		t.Fatalf("addon.ccm-behind-target fires for %d CCM pods before the run, want 2", n)
	}

	t.Run("dry run says what the stage would do and changes nothing", func(t *testing.T) {
		code, out, _ := runUpgate(t, cfg, "--dry-run")
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		if !strings.Contains(out, "cloud-controller-manager\n") || !strings.Contains(out, "at "+seededServer+" to "+runTarget+" through the driver; no worker starts while addon.ccm-behind-target fires") {
			t.Errorf("the dry run does not say what the cloud-controller-manager stage would do")
		}
		if img := ccmImage(); !strings.HasSuffix(img, ":"+seededServer) {
			t.Errorf("the dry run changed the CCM image: %s", img)
		}
	})

	rec := filepath.Join(t.TempDir(), "run.json")
	code, out, _ := runUpgate(t, cfg, "--output", rec, "--ccm-timeout", "90s")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if img := ccmImage(); img != "registry.k8s.io/cloud-controller-manager:"+runTargetFull {
		t.Errorf("CCM Deployment image %s, want the target %s", img, runTargetFull)
	}
	pods := kubectl(t, "", "-n", "kube-system", "get", "pods", "-l", "component=cloud-controller-manager",
		"-o", "jsonpath={range .items[*]}{.metadata.name}={.spec.containers[0].image}{\"\\n\"}{end}")
	for _, line := range strings.Fields(pods) {
		if !strings.HasSuffix(line, ":"+runTargetFull) {
			t.Errorf("CCM pod not at the target: %s", line)
		}
	}

	if n := ccmFindings(); n != 0 {
		t.Errorf("addon.ccm-behind-target still fires for %d CCM pods after the run", n)
	}

	// The output: the driver moved the Deployment, the check cleared, and
	// only then the first worker line.
	moved := strings.Index(out, "[cloud-controller-manager] kwok driver: Deployment kube-system/cloud-controller-manager image tag "+seededServer+" -> "+runTargetFull)
	cleared := strings.Index(out, "[cloud-controller-manager] the cloud-controller-manager is at "+runTarget+": the workers may start")
	firstWorker := strings.Index(out, "[workers ")
	lastCP := strings.LastIndex(out, "[control-plane ")
	if moved < 0 || cleared < moved || firstWorker < cleared || lastCP > moved {
		t.Errorf("output order: control-plane last at %d, CCM moved at %d, check cleared at %d, first worker at %d", lastCP, moved, cleared, firstWorker)
	}

	// The run record: the stage ran once, ok, after every control-plane
	// node's last step and before every worker's first.
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	var r runRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("run record: %v", err)
	}
	if r.Verdict != "done" || len(r.Stages) != 1 || r.Stages[0].Stage != "cloud-controller-manager" || r.Stages[0].Result != "ok" || r.Stages[0].Hop != runTarget {
		t.Fatalf("run record: verdict %s, stages %+v", r.Verdict, r.Stages)
	}
	st := r.Stages[0]
	t.Logf("cloud-controller-manager stage %s -> %s: %s", st.Start.Format(time.RFC3339Nano), st.End.Format(time.RFC3339Nano), st.Message)
	workers := 0
	for _, n := range r.Nodes {
		if len(n.Steps) == 0 {
			continue
		}
		first, last := n.Steps[0].Start, n.Steps[len(n.Steps)-1].End
		switch n.Stage {
		case "workers":
			workers++
			if first.Before(st.End) {
				t.Errorf("worker %s started at %s, before the CCM stage ended at %s", n.Name, first.Format(time.RFC3339Nano), st.End.Format(time.RFC3339Nano))
			}
		case "etcd", "control-plane":
			if last.After(st.Start) {
				t.Errorf("%s node %s ended at %s, after the CCM stage began at %s", n.Stage, n.Name, last.Format(time.RFC3339Nano), st.Start.Format(time.RFC3339Nano))
			}
		}
	}
	if workers != len(workerNodes) {
		t.Errorf("%d workers in the record took steps, want %d", workers, len(workerNodes))
	}
	// And on the nodes: every worker is done at the target.
	for _, name := range workerNodes {
		n := getNode(t, name)
		if n.Annotations["upgate.dev/phase"] != "done" || n.Status.NodeInfo.KubeletVersion != runTargetFull {
			t.Errorf("worker %s: phase %q kubelet %s", name, n.Annotations["upgate.dev/phase"], n.Status.NodeInfo.KubeletVersion)
		}
	}
}
