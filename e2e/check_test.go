//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type finding struct {
	Check   string `json:"check"`
	Ignored bool   `json:"ignored"`
	Subject struct {
		Kind      string `json:"kind"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"subject"`
	Node     string `json:"node"`
	Severity string `json:"severity"`
}

type report struct {
	CurrentVersion string    `json:"currentVersion"`
	Verdict        string    `json:"verdict"`
	Findings       []finding `json:"findings"`
}

func (f finding) key() string {
	return strings.Join([]string{f.Check, f.Subject.Kind, f.Subject.Namespace, f.Subject.Name, f.Node}, " ")
}

func parseReport(t *testing.T, out string) report {
	t.Helper()
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, out)
	}
	return r
}

func keys(r report) []string {
	var ks []string
	for _, f := range r.Findings {
		ks = append(ks, f.key())
	}
	sort.Strings(ks)
	return ks
}

// objectKeys leaves out findings about the API server's request metric,
// which a kubectl dump cannot hold.
func objectKeys(r report) []string {
	var ks []string
	for _, f := range r.Findings {
		if f.Subject.Kind != "APIRequest" {
			ks = append(ks, f.key())
		}
	}
	sort.Strings(ks)
	return ks
}

func has(r report, check, namespace, name string) bool {
	for _, f := range r.Findings {
		if f.Check == check && f.Subject.Namespace == namespace && (name == "" || strings.HasPrefix(f.Subject.Name, name)) {
			return true
		}
	}
	return false
}

// TestLiveCheckFindsSeededHazards runs upgate check against the live
// cluster and expects every seeded hazard to block.
func TestLiveCheckFindsSeededHazards(t *testing.T) {
	code, out, stderr := upgate(t, "check", "--target", target, "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (blocked); stderr: %s", code, stderr)
	}
	r := parseReport(t, out)
	if r.Verdict != "blocked" || r.CurrentVersion != "v1.36.3" {
		t.Errorf("verdict %s, current %s; want blocked at v1.36.3 (the server's /version)", r.Verdict, r.CurrentVersion)
	}
	for _, want := range []struct{ check, ns, name string }{
		{"safety.unmanaged-pod", "hazards", "bare"},
		{"safety.emptydir", "hazards", "cache-"},
		{"safety.singleton", "hazards", "db"},
		{"safety.pdb-blocks-drain", "hazards", "api-pdb"},
		{"skew.kubelet-too-old", "", "worker-3"},
	} {
		if !has(r, want.check, want.ns, want.name) {
			t.Errorf("no %s finding for %s/%s; findings:\n%s", want.check, want.ns, want.name, strings.Join(keys(r), "\n"))
		}
	}
	// The healthy parts of the cluster must not be flagged.
	for _, f := range r.Findings {
		if f.Subject.Namespace == "shop" && f.Severity == "block" {
			t.Errorf("healthy namespace shop flagged: %s", f.key())
		}
	}
}

// TestSnapshotAndDumpGiveLiveFindings checks that the live collector, its
// snapshot, and a plain `kubectl get -o json` dump of the same cluster all
// lead to the same findings.
func TestSnapshotAndDumpGiveLiveFindings(t *testing.T) {
	dir := t.TempDir()
	snap := filepath.Join(dir, "snapshot.json")
	if code, _, stderr := upgate(t, "snapshot", "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"kind":"Secret"`) || strings.Contains(string(data), `"kind": "Secret"`) {
		t.Errorf("snapshot holds a Secret")
	}
	_, liveOut, _ := upgate(t, "check", "--target", target, "--format", "json")
	_, snapOut, stderr := upgate(t, "check", "--from", snap, "--target", target, "--format", "json")
	live, fromSnap := parseReport(t, liveOut), parseReport(t, snapOut)
	if a, b := strings.Join(keys(live), "\n"), strings.Join(keys(fromSnap), "\n"); a != b {
		t.Errorf("snapshot findings differ from live (stderr %s):\nlive:\n%s\nsnapshot:\n%s", stderr, a, b)
	}
	dump := kubectl(t, "", "get", "nodes,pods,namespaces,services,deployments,replicasets,statefulsets,daemonsets,jobs,replicationcontrollers,poddisruptionbudgets,persistentvolumes,persistentvolumeclaims,validatingwebhookconfigurations,mutatingwebhookconfigurations,endpointslices", "-A", "-o", "json")
	dumpFile := filepath.Join(dir, "dump.json")
	if err := os.WriteFile(dumpFile, []byte(dump), 0o600); err != nil {
		t.Fatal(err)
	}
	// A dump holds no server version: pass the one the live check used.
	_, dumpOut, stderr := upgate(t, "check", "--from", dumpFile, "--server-version", live.CurrentVersion, "--target", target, "--format", "json")
	fromDump := parseReport(t, dumpOut)
	if a, b := strings.Join(objectKeys(live), "\n"), strings.Join(objectKeys(fromDump), "\n"); a != b {
		t.Errorf("kubectl dump findings differ from live (stderr %s):\nlive:\n%s\ndump:\n%s", stderr, a, b)
	}
}

// TestIgnoreAnnotationLive marks the singleton ignored through an
// annotation on its Deployment and expects it reported but not blocking.
func TestIgnoreAnnotationLive(t *testing.T) {
	kubectl(t, "", "-n", "hazards", "annotate", "deployment", "db", "upgate.dev/ignore=safety.singleton", "--overwrite")
	defer kubectl(t, "", "-n", "hazards", "annotate", "deployment", "db", "upgate.dev/ignore-")
	_, out, _ := upgate(t, "check", "--target", target, "--format", "json")
	r := parseReport(t, out)
	found := false
	for _, f := range r.Findings {
		if f.Check == "safety.singleton" && f.Subject.Name == "db" {
			found = true
			if !f.Ignored {
				t.Errorf("singleton db should be ignored")
			}
		}
	}
	if !found {
		t.Errorf("ignored findings must stay in the report")
	}
}

// TestForbiddenFailsClosed checks that a checker which cannot list a
// resource exits 3 naming it, never passes on partial data.
func TestForbiddenFailsClosed(t *testing.T) {
	kubectl(t, "", "create", "serviceaccount", "limited", "-n", "default")
	defer kubectl(t, "", "delete", "serviceaccount", "limited", "-n", "default", "--ignore-not-found")
	kubectl(t, "", "create", "clusterrole", "upgate-limited", "--verb=list,get", "--resource=nodes,pods")
	defer kubectl(t, "", "delete", "clusterrole", "upgate-limited", "--ignore-not-found")
	kubectl(t, "", "create", "clusterrolebinding", "upgate-limited", "--clusterrole=upgate-limited", "--serviceaccount=default:limited")
	defer kubectl(t, "", "delete", "clusterrolebinding", "upgate-limited", "--ignore-not-found")
	token := strings.TrimSpace(kubectl(t, "", "create", "token", "limited", "-n", "default"))
	server := kubectl(t, "", "config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
	ca := kubectl(t, "", "config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}")
	limited := filepath.Join(t.TempDir(), "limited.kubeconfig")
	kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + server +
		"\n    certificate-authority-data: " + ca + "\nusers:\n- name: u\n  user:\n    token: " + token +
		"\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"
	if ca == "" {
		kc = strings.Replace(kc, "    certificate-authority-data: \n", "    insecure-skip-tls-verify: true\n", 1)
	}
	if err := os.WriteFile(limited, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := upgate(t, "check", "--target", target, "--kubeconfig", limited)
	if code != 3 {
		t.Fatalf("exit %d, want 3; stderr %s", code, stderr)
	}
	if !strings.Contains(stderr, "forbidden") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("want one line naming the forbidden resource, got %q", stderr)
	}
}
