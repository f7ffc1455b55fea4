//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
	"sigs.k8s.io/yaml"

	"github.com/upgate-dev/upgate/internal/bundletest"
	"github.com/upgate-dev/upgate/internal/tooltest"
	"github.com/upgate-dev/upgate/inventory"
)

const (
	chartRelease   = "upgate"
	chartNamespace = "upgate-system"
	// fleetCheck is the check of the policy the bundle service serves.
	fleetCheck = "fleet.e2e-bundle"
)

// TestChartOnTheLiveCluster installs the chart with the real helm into the
// local control plane, as a user would, and checks what an install
// promises: kwok runs the Deployment's pod; the checker's ServiceAccount
// can get, list and watch every kind the collector reads, and nothing it
// must not (Secrets, ConfigMaps, writes); `upgate serve`, run on the host
// under a token of that ServiceAccount (TokenRequest) with the config and
// flags the chart rendered, serves the same findings as a `check` with
// full rights, the finding of the signed OPA bundle the chart's
// policyBundle values name included; `helm upgrade` with changed values reaches the Deployment
// and its config; `helm uninstall` leaves nothing behind.
func TestChartOnTheLiveCluster(t *testing.T) {
	helmBin := tooltest.Require(t, "helm")
	home := t.TempDir()
	helm := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(helmBin, append(args, "--kubeconfig", kubeconfig)...)
		// helm keeps its cache, config and data under $HOME by default.
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	chart := filepath.Join(repoRoot, "charts", "upgate")
	// A fleet's policies from an OPA bundle service, signed: the chart
	// passes its URL and public key to serve, which must then report the
	// bundle's finding (serve runs on the host below, so loopback works).
	priv, pub := bundletest.RSAKey(t)
	signed := bundletest.Build(t, bundletest.Spec{
		Modules: map[string]string{"/fleet.rego": bundletest.Policy(fleetCheck, "from the fleet's bundle service")},
		Sign:    bundle.NewSigningConfig(priv, "RS256", ""),
	})
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(signed)
	}))
	defer svc.Close()
	pubFile := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(pubFile, []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	helm("install", chartRelease, chart, "--namespace", chartNamespace, "--create-namespace",
		"--set", "target="+target, "--set", "policyBundle.url="+svc.URL+"/bundles/upgate.tar.gz",
		"--set-file", "policyBundle.publicKey="+pubFile, "--wait", "--timeout", "3m")
	installed := true
	t.Cleanup(func() {
		if installed {
			_, _ = exec.Command(helmBin, "uninstall", chartRelease, "--namespace", chartNamespace,
				"--kubeconfig", kubeconfig, "--wait").CombinedOutput()
		}
		_, _ = exec.Command(filepath.Join(repoRoot, "hack", "cluster.sh"), "kubectl", "delete", "namespace",
			chartNamespace, "--ignore-not-found", "--wait=false").CombinedOutput()
	})
	t.Logf("helm install --wait: %s", time.Since(start).Round(time.Second))

	// kwok runs the pod: it is bound to a node and Ready.
	pods := kubectl(t, "", "get", "pods", "-n", chartNamespace, "-l", "app.kubernetes.io/instance="+chartRelease,
		"-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	if lines := strings.Fields(pods); len(lines) != 4 || lines[1] == "" || lines[2] != "Running" || lines[3] != "True" {
		t.Fatalf("the chart's pod is not running and ready on a node: %q", pods)
	}

	t.Run("the checker does not block its own node", func(t *testing.T) {
		// Its single replica and its scratch /tmp are found, and pass as
		// ignored (the chart's upgate.dev/ignore): a run drains its node
		// like any other.
		r := liveReport(t, "--target", target)
		var ignored []string
		for _, f := range r.Findings {
			if f.Subject.Namespace != chartNamespace {
				continue
			}
			if !f.Ignored && f.Severity == "block" {
				t.Errorf("the chart's own workload blocks: %s", f.key())
			}
			if f.Ignored {
				ignored = append(ignored, f.Check)
			}
		}
		for _, want := range []string{"safety.singleton", "safety.emptydir"} {
			if !slices.Contains(ignored, want) {
				t.Errorf("no ignored %s finding about the chart's workload (ignored: %v): the check no longer sees it, so this test shows nothing", want, ignored)
			}
		}
	})
	t.Run("checker rights", func(t *testing.T) { checkerRights(t) })
	t.Run("serve under the chart's identity", func(t *testing.T) { serveAsTheChart(t) })

	// helm upgrade with changed values: a flag value and the config file.
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte("interval: 2m\nignoreSafetyChecks: true\nconfig:\n  exceptions:\n  - check: safety.emptydir\n    namespace: e2e-upgrade\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := kubectl(t, "", "get", "deployment", chartRelease, "-n", chartNamespace,
		"-o", "jsonpath={.spec.template.metadata.annotations.checksum/config}")
	helm("upgrade", chartRelease, chart, "--namespace", chartNamespace, "--reuse-values", "-f", values,
		"--wait", "--timeout", "3m")
	args := deploymentArgs(t)
	for _, want := range []string{"--interval=2m", "--ignore-safety-checks=true", "--target=" + target} {
		if !slices.Contains(args, want) {
			t.Errorf("after helm upgrade the Deployment's args lack %s: %q", want, args)
		}
	}
	if cfg := renderedConfig(t); !strings.Contains(cfg, "namespace: e2e-upgrade") {
		t.Errorf("after helm upgrade the ConfigMap lacks the new exception:\n%s", cfg)
	}
	if after := kubectl(t, "", "get", "deployment", chartRelease, "-n", chartNamespace,
		"-o", "jsonpath={.spec.template.metadata.annotations.checksum/config}"); after == before {
		t.Errorf("the pod template's config checksum did not change (%s): the pods would keep the old config", after)
	}
	if h := helm("history", chartRelease, "--namespace", chartNamespace, "-o", "json"); !strings.Contains(h, `"revision":2`) ||
		!strings.Contains(h, `"status":"deployed"`) {
		t.Errorf("helm history after the upgrade: %s", h)
	}

	// helm uninstall leaves nothing behind, cluster-scoped objects and
	// helm's own release records included.
	helm("uninstall", chartRelease, "--namespace", chartNamespace, "--wait", "--timeout", "2m")
	installed = false
	sel := "app.kubernetes.io/instance=" + chartRelease
	if left := kubectl(t, "", "get", "deployments,replicasets,pods,services,configmaps,serviceaccounts,roles,rolebindings,networkpolicies,secrets",
		"-n", chartNamespace, "-l", sel, "-o", "name"); strings.TrimSpace(left) != "" {
		t.Errorf("helm uninstall left in %s:\n%s", chartNamespace, left)
	}
	if left := kubectl(t, "", "get", "clusterroles,clusterrolebindings", "-l", sel, "-o", "name"); strings.TrimSpace(left) != "" {
		t.Errorf("helm uninstall left cluster-wide:\n%s", left)
	}
	if left := kubectl(t, "", "get", "secrets", "-n", chartNamespace, "-l", "owner=helm,name="+chartRelease, "-o", "name"); strings.TrimSpace(left) != "" {
		t.Errorf("helm uninstall left its release records:\n%s", left)
	}
}

// serviceAccount is the chart's checker identity as RBAC names it.
func serviceAccount() string {
	return "system:serviceaccount:" + chartNamespace + ":" + chartRelease
}

// canI asks the API server's authorizer, as `kubectl auth can-i --as`
// does, whether the chart's ServiceAccount may do verb on resource.
func canI(t *testing.T, verb, resource string) bool {
	t.Helper()
	args := []string{"kubectl", "auth", "can-i", verb}
	// can-i reads "nodes/proxy" as the node named proxy: a subresource
	// has its own flag.
	if res, sub, ok := strings.Cut(resource, "/"); ok && res != "" {
		args = append(args, res, "--subresource", sub)
	} else {
		args = append(args, resource)
	}
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "cluster.sh"), append(args, "--as", serviceAccount(), "--all-namespaces")...)
	out, err := cmd.Output()
	answer := strings.TrimSpace(string(out))
	if answer != "yes" && answer != "no" {
		t.Fatalf("kubectl auth can-i %s %s: %v %q", verb, resource, err, answer)
	}
	return answer == "yes"
}

func checkerRights(t *testing.T) {
	// Every kind the collector reads (inventory.Kinds, the one list the
	// reader, the collector and the chart's own render test share).
	for _, k := range inventory.Kinds {
		for _, verb := range []string{"get", "list", "watch"} {
			if !canI(t, verb, k.GroupResource()) {
				t.Errorf("the chart's ServiceAccount cannot %s %s, which the collector reads", verb, k.GroupResource())
			}
		}
	}
	if !canI(t, "get", "/metrics") {
		t.Error("the chart's ServiceAccount cannot get the API server's /metrics (rbac.readAPIServerMetrics is on by default)")
	}
	for _, deny := range [][2]string{
		{"get", "secrets"}, {"list", "secrets"}, {"watch", "secrets"},
		{"get", "configmaps"}, {"list", "configmaps"},
		{"patch", "nodes"}, {"update", "nodes"}, {"create", "pods/eviction"}, {"delete", "pods"},
		{"create", "leases.coordination.k8s.io"}, {"get", "nodes/proxy"},
	} {
		if canI(t, deny[0], deny[1]) {
			t.Errorf("the chart's read-only ServiceAccount can %s %s", deny[0], deny[1])
		}
	}
}

// deploymentArgs are the serve flags the chart rendered into its
// Deployment, as the cluster holds them.
func deploymentArgs(t *testing.T) []string {
	t.Helper()
	var args []string
	raw := kubectl(t, "", "get", "deployment", chartRelease, "-n", chartNamespace, "-o", "jsonpath={.spec.template.spec.containers[0].args}")
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatalf("the Deployment's args: %v: %s", err, raw)
	}
	return args
}

// renderedConfig is the config file the chart mounts into serve's pod.
func renderedConfig(t *testing.T) string {
	t.Helper()
	return kubectl(t, "", "get", "configmap", chartRelease, "-n", chartNamespace, "-o", `jsonpath={.data.upgate\.yaml}`)
}

// tokenKubeconfig writes a kubeconfig for the suite's API server that
// authenticates with a TokenRequest token of the chart's ServiceAccount
// and nothing else (no client certificate).
func tokenKubeconfig(t *testing.T) string {
	t.Helper()
	token := strings.TrimSpace(kubectl(t, "", "create", "token", chartRelease, "-n", chartNamespace, "--duration", "1h"))
	server := kubectl(t, "", "config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
	ca := kubectl(t, "", "config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}")
	caFile := kubectl(t, "", "config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority}")
	cluster := map[string]any{"server": server}
	switch {
	case ca != "":
		cluster["certificate-authority-data"] = ca
	case caFile != "":
		cluster["certificate-authority"] = caFile
	default:
		t.Fatal("the suite's kubeconfig names no certificate authority")
	}
	cfg := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"clusters":        []any{map[string]any{"name": "e2e", "cluster": cluster}},
		"users":           []any{map[string]any{"name": "chart", "user": map[string]any{"token": token}}},
		"contexts":        []any{map[string]any{"name": "chart", "context": map[string]any{"cluster": "e2e", "user": "chart"}}},
		"current-context": "chart",
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chart.kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func serveAsTheChart(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "upgate.yaml")
	if err := os.WriteFile(cfgFile, []byte(renderedConfig(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	// The chart's flags, as rendered, with two made for the host: the
	// config file's path here, and loopback for the pod IP.
	keyFile := filepath.Join(dir, "policy-bundle-key.pem")
	if err := os.WriteFile(keyFile, []byte(kubectl(t, "", "get", "configmap", chartRelease, "-n", chartNamespace,
		"-o", `jsonpath={.data.policy-bundle-key\.pem}`)), 0o644); err != nil {
		t.Fatal(err)
	}
	var args, judged []string
	for _, a := range deploymentArgs(t) {
		switch {
		case strings.HasPrefix(a, "--config="):
			a = "--config=" + cfgFile
		case strings.HasPrefix(a, "--listen="):
			a = "--listen=" + addr
		case strings.HasPrefix(a, "--policy-bundle-key="):
			a = "--policy-bundle-key=" + keyFile
		}
		args = append(args, a)
		// The same judgement for check: every flag but serve's own.
		if !slices.ContainsFunc([]string{"serve", "--listen=", "--interval=", "--debounce=", "--check-timeout=", "--stale-after-intervals=", "--log-level="},
			func(p string) bool { return a == p || (strings.HasSuffix(p, "=") && strings.HasPrefix(a, p)) }) {
			judged = append(judged, a)
		}
	}
	if args[0] != "serve" {
		t.Fatalf("the chart's container does not run serve: %q", args)
	}
	// Every kind must be readable: a forbidden list fails the check
	// closed, so a role missing a kind shows here as an error, not as
	// fewer findings.
	srv := startServe(t, addr, []string{"KUBECONFIG=" + tokenKubeconfig(t)}, 90*time.Second, args...)
	code, body := srv.get("/report")
	if code != http.StatusOK {
		t.Fatalf("/report = %d %s", code, firstLines(body, 5))
	}
	served := parseReport(t, body)
	// The same judgement with full rights (the suite's admin kubeconfig).
	check := append([]string{"check", "--format", "json"}, judged...)
	code, out, errOut := upgate(t, check...)
	if code != 0 && code != 1 {
		t.Fatalf("upgate %s: exit %d: %s", strings.Join(check, " "), code, errOut)
	}
	full := parseReport(t, out)
	if served.Verdict != full.Verdict {
		t.Errorf("verdict under the chart's identity %q, with full rights %q", served.Verdict, full.Verdict)
	}
	s, f := judgedKeys(served), judgedKeys(full)
	if !slices.Equal(s, f) {
		t.Errorf("serve under the chart's identity and check with full rights disagree:\nonly served:\n  %s\nonly full rights:\n  %s",
			strings.Join(minus(s, f), "\n  "), strings.Join(minus(f, s), "\n  "))
	}
	if len(f) == 0 {
		t.Error("the full-rights check found nothing: the comparison proves nothing")
	}
	if !has(served, fleetCheck, "", "") {
		t.Errorf("serve under the chart's values did not report the finding of the policy bundle it was given (%s)", fleetCheck)
	}
	t.Logf("serve under the chart's token and check with full rights: %d findings each, verdict %s", len(s), served.Verdict)
}

// judgedKeys are a report's findings with their severity and whether an
// exception ignored them, sorted.
func judgedKeys(r report) []string {
	var ks []string
	for _, f := range r.Findings {
		ks = append(ks, fmt.Sprintf("%s [%s ignored=%t]", f.key(), f.Severity, f.Ignored))
	}
	sort.Strings(ks)
	return ks
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
