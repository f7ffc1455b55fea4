// Package charts holds upgate's Helm chart; its tests render the chart with
// the real helm CLI and check the alert rules with promtool.
package charts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/upgate-dev/upgate/internal/tooltest"
	"github.com/upgate-dev/upgate/inventory"
)

func helmTemplate(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	cmd := exec.Command(tooltest.Require(t, "helm"), append([]string{"template", "rel", "upgate", "--namespace", "upgate-system"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, out)
	}
	var docs []map[string]any
	for _, d := range strings.Split(string(out), "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, d)
		}
		if m != nil {
			docs = append(docs, m)
		}
	}
	return docs
}

func find(docs []map[string]any, kind string) map[string]any {
	for _, d := range docs {
		if d["kind"] == kind {
			return d
		}
	}
	return nil
}

func TestHelmLint(t *testing.T) {
	out, err := exec.Command(tooltest.Require(t, "helm"), "lint", "upgate", "--strict").CombinedOutput()
	if err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
}

func TestCheckerRBACIsReadOnlyWithoutSecrets(t *testing.T) {
	role := find(helmTemplate(t), "ClusterRole")
	if role == nil {
		t.Fatal("no ClusterRole rendered")
	}
	rules, _ := role["rules"].([]any)
	if len(rules) == 0 {
		t.Fatal("ClusterRole has no rules")
	}
	for _, r := range rules {
		rule := r.(map[string]any)
		for _, v := range rule["verbs"].([]any) {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("checker role grants %v: %v", v, rule)
			}
		}
		for _, res := range asStrings(rule["resources"]) {
			if res == "secrets" || res == "configmaps" || res == "*" {
				t.Errorf("checker role reads %s", res)
			}
		}
	}
}

// podSpec is the rendered Deployment's pod spec.
func podSpec(t *testing.T, docs []map[string]any) map[string]any {
	t.Helper()
	dep := find(docs, "Deployment")
	if dep == nil {
		t.Fatal("no Deployment rendered")
	}
	return dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
}

func containerArgs(t *testing.T, docs []map[string]any) string {
	t.Helper()
	return strings.Join(asStrings(podSpec(t, docs)["containers"].([]any)[0].(map[string]any)["args"]), " ")
}

func TestExplicitFalseAndZeroRender(t *testing.T) {
	docs := helmTemplate(t, "--set", "ignoreSafetyChecks=false", "--set", "target=v1.37",
		"--set", "checkTimeout=0", "--set", "staleAfterIntervals=0", "--set", "networkPolicy.enabled=false", "--set", "debounce=0")
	args := containerArgs(t, docs)
	for _, want := range []string{"--ignore-safety-checks=false", "--target=v1.37", "serve", "--check-timeout=0 ", "--stale-after-intervals=0 ", "--debounce=0 "} {
		if !strings.Contains(args+" ", want) {
			t.Errorf("container args %q lack %q", args, want)
		}
	}
	if find(docs, "NetworkPolicy") != nil {
		t.Errorf("NetworkPolicy rendered with networkPolicy.enabled=false")
	}
	docs = helmTemplate(t, "--set", "ignoreSafetyChecks=true", "--set", "signing.secretName=upgate-cosign")
	rendered, _ := yaml.Marshal(find(docs, "Deployment"))
	for _, want := range []string{"--ignore-safety-checks=true", "--sign-key=/etc/upgate/signing/cosign.key", "COSIGN_PASSWORD", "secretName: upgate-cosign"} {
		if !strings.Contains(string(rendered), want) {
			t.Errorf("deployment with signing lacks %q", want)
		}
	}
}

// By default serve gets a check timeout and a staleness bound, and listens
// on the pod IP (downward API), not on every interface.
func TestServeDefaults(t *testing.T) {
	docs := helmTemplate(t)
	args := containerArgs(t, docs)
	for _, want := range []string{"--check-timeout=3m ", "--stale-after-intervals=3 ", "--listen=[$(POD_IP)]:8080 ", "--debounce=10s "} {
		if !strings.Contains(args+" ", want) {
			t.Errorf("container args %q lack %q", args, want)
		}
	}
	rendered, _ := yaml.Marshal(podSpec(t, docs))
	if !strings.Contains(string(rendered), "fieldPath: status.podIP") {
		t.Errorf("POD_IP does not come from the downward API:\n%s", rendered)
	}
	if args := containerArgs(t, helmTemplate(t, "--set", "listenHost=[::]", "--set", "port=9090")); !strings.Contains(args, "--listen=[::]:9090") {
		t.Errorf("listenHost and port not rendered: %q", args)
	}
}

// The NetworkPolicy is on by default and lets only the configured sources
// reach the serve port of upgate's own pods.
func TestNetworkPolicy(t *testing.T) {
	docs := helmTemplate(t)
	np := find(docs, "NetworkPolicy")
	if np == nil {
		t.Fatal("no NetworkPolicy rendered by default")
	}
	spec := np["spec"].(map[string]any)
	podLabels := find(docs, "Deployment")["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["labels"].(map[string]any)
	for k, v := range spec["podSelector"].(map[string]any)["matchLabels"].(map[string]any) {
		if podLabels[k] != v {
			t.Errorf("NetworkPolicy selects %s=%v, the pods have %v", k, v, podLabels[k])
		}
	}
	if types := asStrings(spec["policyTypes"]); strings.Join(types, ",") != "Ingress" {
		t.Errorf("policyTypes = %v, want [Ingress] by default", types)
	}
	ingress := spec["ingress"].([]any)
	if len(ingress) != 1 {
		t.Fatalf("ingress = %v, want one rule", ingress)
	}
	rule := ingress[0].(map[string]any)
	ports := rule["ports"].([]any)
	if len(ports) != 1 || ports[0].(map[string]any)["port"] != float64(8080) {
		t.Errorf("ingress ports = %v, want only 8080", ports)
	}
	from, _ := yaml.Marshal(rule["from"])
	for _, want := range []string{"kubernetes.io/metadata.name: monitoring", "app.kubernetes.io/name: prometheus"} {
		if !strings.Contains(string(from), want) {
			t.Errorf("ingress from lacks %q:\n%s", want, from)
		}
	}
	if _, ok := rule["from"]; !ok || len(rule["from"].([]any)) == 0 {
		t.Errorf("an ingress rule without from would admit everyone")
	}

	// No sources: no ingress at all, never a rule that admits everyone.
	spec = find(helmTemplate(t, "--set", "networkPolicy.ingressFrom=null"), "NetworkPolicy")["spec"].(map[string]any)
	if in, ok := spec["ingress"].([]any); !ok || len(in) != 0 {
		t.Errorf("ingressFrom empty: ingress = %v, want []", spec["ingress"])
	}
	// Egress rules, when given, are enforced.
	spec = find(helmTemplate(t, "--set", "networkPolicy.egress[0].ports[0].port=53"), "NetworkPolicy")["spec"].(map[string]any)
	if types := asStrings(spec["policyTypes"]); strings.Join(types, ",") != "Ingress,Egress" || len(spec["egress"].([]any)) != 1 {
		t.Errorf("with egress rules: policyTypes %v, egress %v", types, spec["egress"])
	}
}

// The executor's rights are bound to its own ServiceAccount: serve's, which
// faces the network, keeps only the checker's reads.
func TestExecutorHasItsOwnServiceAccount(t *testing.T) {
	docs := helmTemplate(t, "--set", "rbac.executor=true")
	serveSA := podSpec(t, docs)["serviceAccountName"]
	if serveSA != "rel-upgate" {
		t.Fatalf("serve runs as %v", serveSA)
	}
	var executorSA bool
	for _, d := range docs {
		if d["kind"] == "ServiceAccount" && d["metadata"].(map[string]any)["name"] == "rel-upgate-executor" {
			executorSA = true
		}
	}
	if !executorSA {
		t.Error("no ServiceAccount rel-upgate-executor rendered")
	}
	roles := map[string]map[string]any{}
	for _, d := range docs {
		if d["kind"] == "ClusterRole" || d["kind"] == "Role" {
			roles[d["kind"].(string)+"/"+d["metadata"].(map[string]any)["name"].(string)] = d
		}
	}
	var executorBindings int
	var checkerSubjects []string
	for _, d := range docs {
		if d["kind"] != "ClusterRoleBinding" && d["kind"] != "RoleBinding" {
			continue
		}
		ref := d["roleRef"].(map[string]any)
		role := roles[ref["kind"].(string)+"/"+ref["name"].(string)]
		if role == nil {
			t.Errorf("%s binds %v, which is not rendered", d["metadata"].(map[string]any)["name"], ref)
			continue
		}
		var subjects []string
		for _, s := range d["subjects"].([]any) {
			subjects = append(subjects, s.(map[string]any)["name"].(string))
		}
		if ref["name"] == "rel-upgate-checker" {
			checkerSubjects = subjects
		}
		if strings.Contains(ref["name"].(string), "executor") {
			executorBindings++
			if strings.Join(subjects, ",") != "rel-upgate-executor" {
				t.Errorf("%s binds the executor's rights to %v, want only rel-upgate-executor", ref["name"], subjects)
			}
		}
		// Whatever is bound to serve's ServiceAccount reads, and only that.
		for _, s := range subjects {
			if s != serveSA {
				continue
			}
			for _, r := range role["rules"].([]any) {
				rule := r.(map[string]any)
				for _, v := range asStrings(rule["verbs"]) {
					if v != "get" && v != "list" && v != "watch" {
						t.Errorf("serve's ServiceAccount may %s %v through %s", v, rule["resources"], ref["name"])
					}
				}
			}
		}
	}
	if executorBindings != 2 {
		t.Errorf("%d executor bindings rendered, want the ClusterRoleBinding and the lock RoleBinding", executorBindings)
	}
	// The executor's gate reads what the checks read.
	if strings.Join(checkerSubjects, ",") != "rel-upgate,rel-upgate-executor" {
		t.Errorf("the checker's reads are bound to %v, want serve's and the executor's ServiceAccounts", checkerSubjects)
	}
	// It can never be serve's.
	cmd := exec.Command(tooltest.Require(t, "helm"), "template", "rel", "upgate", "--set", "rbac.executor=true", "--set", "serviceAccount.executorName=rel-upgate")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "must differ") {
		t.Errorf("executorName equal to serve's ServiceAccount rendered: %v\n%s", err, out)
	}
}

func TestAlertRules(t *testing.T) {
	out, err := exec.Command(tooltest.Require(t, "promtool"), "check", "rules", "upgate/files/upgate.rules.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	docs := helmTemplate(t, "--set", "metrics.prometheusRule.enabled=true")
	pr := find(docs, "PrometheusRule")
	if pr == nil {
		t.Fatal("PrometheusRule not rendered when enabled")
	}
	// The PrometheusRule carries every rule of the file.
	rendered, _ := yaml.Marshal(pr["spec"])
	for _, r := range alertRules(t) {
		if !strings.Contains(string(rendered), "alert: "+r.Alert+"\n") {
			t.Errorf("the PrometheusRule lacks %s", r.Alert)
		}
	}
}

// alertRule is a rule of upgate.rules.yaml.
type alertRule struct {
	Alert       string
	Expr        string
	Labels      map[string]string
	Annotations map[string]string
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	data, err := os.ReadFile("upgate/files/upgate.rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Groups []struct{ Rules []alertRule } }
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var out []alertRule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// TestAlertRulesUnitTests runs upgate.rules.test.yaml with promtool test
// rules, and checks it has a firing and a silent case for every rule, and
// that every rule says what it means and how bad it is.
func TestAlertRulesUnitTests(t *testing.T) {
	rules := alertRules(t)
	if len(rules) < 7 {
		t.Fatalf("%d rules read, want serve's 3 and the rollout's 4", len(rules))
	}
	data, err := os.ReadFile("upgate/files/upgate.rules.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		}
	}
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatal(err)
	}
	firing, silent := map[string]int{}, map[string]int{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname]++
			} else {
				silent[a.Alertname]++
			}
		}
	}
	for _, r := range rules {
		if firing[r.Alert] == 0 || silent[r.Alert] == 0 {
			t.Errorf("%s: %d firing and %d silent cases in upgate.rules.test.yaml, want at least one of each", r.Alert, firing[r.Alert], silent[r.Alert])
		}
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
		}
		if r.Annotations["summary"] == "" {
			t.Errorf("%s has no summary", r.Alert)
		}
		if strings.HasPrefix(r.Alert, "UpgateRollout") || r.Alert == "UpgateExecutorGone" {
			if d := r.Annotations["description"]; !strings.Contains(d, "upgate run") {
				t.Errorf("%s: the description does not say how to go on (upgate run): %q", r.Alert, d)
			}
		}
	}
	cmd := exec.Command(tooltest.Require(t, "promtool"), "test", "rules", "upgate.rules.test.yaml")
	cmd.Dir = "upgate/files"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func asStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// grants lists "resource verb" for every rule of the roles whose name
// contains part.
func grants(docs []map[string]any, part string) []string {
	var out []string
	for _, d := range docs {
		if d["kind"] != "ClusterRole" && d["kind"] != "Role" {
			continue
		}
		name, _ := d["metadata"].(map[string]any)["name"].(string)
		if !strings.Contains(name, part) {
			continue
		}
		rules, _ := d["rules"].([]any)
		for _, r := range rules {
			rule := r.(map[string]any)
			for _, res := range asStrings(rule["resources"]) {
				for _, v := range asStrings(rule["verbs"]) {
					out = append(out, res+" "+v)
				}
			}
		}
	}
	return out
}

// The executor reads kubelet stats summaries through the node proxy (its
// readiness check); the read-only checker never gets nodes/proxy, and
// rbac.executorNodeStats=false leaves it out of the executor's too.
func TestNodeProxyOnlyForTheExecutor(t *testing.T) {
	docs := helmTemplate(t, "--set", "rbac.executor=true")
	if !slices.Contains(grants(docs, "executor"), "nodes/proxy get") {
		t.Errorf("executor grants %v, want nodes/proxy get", grants(docs, "executor"))
	}
	for _, d := range docs {
		if d["kind"] != "ClusterRole" && d["kind"] != "Role" {
			continue
		}
		name, _ := d["metadata"].(map[string]any)["name"].(string)
		if strings.Contains(name, "executor") {
			continue
		}
		for _, g := range grants([]map[string]any{d}, "") {
			if strings.HasPrefix(g, "nodes/proxy ") {
				t.Errorf("%s grants %s: the checker stays read-only", name, g)
			}
		}
	}
	docs = helmTemplate(t, "--set", "rbac.executor=true", "--set", "rbac.executorNodeStats=false")
	for _, g := range grants(docs, "executor") {
		if strings.HasPrefix(g, "nodes/proxy ") {
			t.Errorf("rbac.executorNodeStats=false still grants %s", g)
		}
	}
}

func TestExecutorRBACOptInWithoutSecrets(t *testing.T) {
	for _, d := range helmTemplate(t) {
		name, _ := d["metadata"].(map[string]any)["name"].(string)
		if strings.Contains(name, "executor") {
			t.Errorf("executor RBAC %s %s rendered by default", d["kind"], name)
		}
	}
	docs := helmTemplate(t, "--set", "rbac.executor=true")
	var roles int
	for _, d := range docs {
		if d["kind"] != "ClusterRole" && d["kind"] != "Role" {
			continue
		}
		name, _ := d["metadata"].(map[string]any)["name"].(string)
		if !strings.Contains(name, "executor") {
			continue
		}
		roles++
		rules, _ := d["rules"].([]any)
		for _, r := range rules {
			rule := r.(map[string]any)
			for _, res := range asStrings(rule["resources"]) {
				if res == "secrets" || res == "configmaps" || res == "*" {
					t.Errorf("%s grants %s", name, res)
				}
				if res == "pods" {
					for _, v := range asStrings(rule["verbs"]) {
						if v == "delete" || v == "deletecollection" || v == "*" {
							t.Errorf("%s may %s pods: the executor evicts, never deletes", name, v)
						}
					}
				}
			}
			for _, v := range asStrings(rule["verbs"]) {
				if v == "*" {
					t.Errorf("%s grants every verb: %v", name, rule)
				}
			}
		}
		if d["kind"] == "Role" && d["metadata"].(map[string]any)["namespace"] != "kube-system" {
			t.Errorf("executor lock Role in %v, want kube-system", d["metadata"].(map[string]any)["namespace"])
		}
	}
	if roles != 2 {
		t.Errorf("rbac.executor=true rendered %d executor roles, want a ClusterRole and the lock Role", roles)
	}
}

// The checker role reads (get, list, watch) every kind of the table: what
// the collector lists and the run's informers watch.
func TestKindTableIsWhatTheCheckerRoleReads(t *testing.T) {
	role := find(helmTemplate(t), "ClusterRole")
	if role == nil {
		t.Fatal("no ClusterRole rendered")
	}
	granted := map[string][]string{} // "resource.group" -> verbs
	for _, r := range role["rules"].([]any) {
		rule := r.(map[string]any)
		for _, g := range asStrings(rule["apiGroups"]) {
			for _, res := range asStrings(rule["resources"]) {
				key := res
				if g != "" {
					key += "." + g
				}
				granted[key] = append(granted[key], asStrings(rule["verbs"])...)
			}
		}
	}
	for _, k := range inventory.Kinds {
		verbs := granted[k.GroupResource()]
		for _, v := range []string{"get", "list", "watch"} {
			if !slices.Contains(verbs, v) {
				t.Errorf("the checker role may not %s %s", v, k.GroupResource())
			}
		}
	}
}

// TestValuesSchemaRefusesBadValues: values.schema.json makes helm refuse
// a misspelt key or a value serve would reject, naming it, before anything
// is installed; explicit zeros and falses still pass.
func TestValuesSchemaRefusesBadValues(t *testing.T) {
	helm := tooltest.Require(t, "helm")
	for _, tt := range []struct {
		set  []string
		want string // in helm's error; "" for values that pass
	}{
		{[]string{"intervall=5m"}, "additional properties 'intervall' not allowed"},
		{[]string{"rbac.exectuor=true"}, "additional properties 'exectuor' not allowed"},
		{[]string{"logLevel=verbose"}, "/logLevel"},
		{[]string{"interval=5"}, "/interval"},
		{[]string{"interval=five-minutes"}, "/interval"},
		{[]string{"target=latest"}, "/target"},
		{[]string{"staleAfterIntervals=1"}, "/staleAfterIntervals"},
		{[]string{"port=70000"}, "/port"},
		{[]string{"image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
		{[]string{"interval=0", "checkTimeout=0", "staleAfterIntervals=0", "ignoreSafetyChecks=false", "networkPolicy.enabled=false"}, ""},
		{[]string{"interval=90s", "checkTimeout=1m30s", "target=1.37.2", "staleAfterIntervals=2"}, ""},
	} {
		args := []string{"template", "rel", "upgate"}
		for _, s := range tt.set {
			args = append(args, "--set", s)
		}
		out, err := exec.Command(helm, args...).CombinedOutput()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("--set %v: %v\n%s", tt.set, err, out)
		case tt.want != "" && err == nil:
			t.Errorf("--set %v rendered; want it refused naming %s", tt.set, tt.want)
		case tt.want != "" && !strings.Contains(string(out), tt.want):
			t.Errorf("--set %v: helm's error does not name %s:\n%s", tt.set, tt.want, out)
		}
	}
}

// TestReadmeNamesEveryValue: the chart's README says what each value of
// values.yaml sets (a serve flag or an object), leaf by leaf.
func TestReadmeNamesEveryValue(t *testing.T) {
	readme, err := os.ReadFile("upgate/README.md")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("upgate/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	// Objects whose keys are the user's (config, resources, selectors,
	// security contexts) are named whole; the chart's own are named leaf
	// by leaf.
	whole := map[string]bool{"config": true, "resources": true, "nodeSelector": true, "affinity": true,
		"podSecurityContext": true, "securityContext": true}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			name := prefix + k
			if sub, ok := v.(map[string]any); ok && !whole[name] {
				walk(name+".", sub)
				continue
			}
			if !strings.Contains(string(readme), "`"+name+"`") {
				t.Errorf("upgate/README.md does not name the value %s", name)
			}
		}
	}
	walk("", values)
}

// policyBundle renders serve's bundle flags, the public key as a file in
// the mounted ConfigMap beside upgate.yaml, and nothing without a URL; a
// key or scope that could not take effect stops the install with a
// message instead of a pod that exits 2.
func TestPolicyBundleValues(t *testing.T) {
	if args := containerArgs(t, helmTemplate(t)); strings.Contains(args, "--policy-bundle") {
		t.Errorf("bundle flags rendered without policyBundle.url: %q", args)
	}
	key := "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
	keyFile := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	docs := helmTemplate(t, "--set", "policyBundle.url=https://bundles.example/upgate.tar.gz",
		"--set-file", "policyBundle.publicKey="+keyFile, "--set", "policyBundle.keyAlg=ES256", "--set", "policyBundle.scope=fleet")
	args := containerArgs(t, docs) + " "
	for _, want := range []string{"--policy-bundle=https://bundles.example/upgate.tar.gz ",
		"--policy-bundle-key=/etc/upgate/policy-bundle-key.pem ", "--policy-bundle-key-alg=ES256 ", "--policy-bundle-scope=fleet "} {
		if !strings.Contains(args, want) {
			t.Errorf("container args %q lack %q", args, want)
		}
	}
	cm := find(docs, "ConfigMap")
	if cm == nil {
		t.Fatal("no ConfigMap rendered")
	}
	// Compared trimmed: helmTemplate's split on "\n---" takes the last
	// line break of the document's last value.
	if got, _ := cm["data"].(map[string]any)["policy-bundle-key.pem"].(string); strings.TrimSpace(got) != strings.TrimSpace(key) {
		t.Errorf("the ConfigMap's policy-bundle-key.pem = %q, want the key as given %q", got, key)
	}
	rendered, _ := yaml.Marshal(podSpec(t, docs))
	if !strings.Contains(string(rendered), "mountPath: /etc/upgate\n") {
		t.Errorf("the ConfigMap is not mounted at /etc/upgate, where --policy-bundle-key points:\n%s", rendered)
	}

	for _, c := range []struct {
		name string
		set  []string
		want string
	}{
		{"key without a URL", []string{"--set-file", "policyBundle.publicKey=" + keyFile}, "policyBundle.publicKey and policyBundle.scope need policyBundle.url"},
		{"scope without a key", []string{"--set", "policyBundle.url=http://b.example/u.tar.gz", "--set", "policyBundle.scope=x"}, "policyBundle.scope needs policyBundle.publicKey"},
		{"not http", []string{"--set", "policyBundle.url=file:///b.tar.gz"}, "/policyBundle/url"},
		{"a shared secret", []string{"--set", "policyBundle.url=http://b.example/u.tar.gz", "--set", "policyBundle.keyAlg=HS256"}, "/policyBundle/keyAlg"},
	} {
		cmd := exec.Command(tooltest.Require(t, "helm"), append([]string{"template", "rel", "upgate"}, c.set...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: helm template: %v, output lacks %q:\n%s", c.name, err, c.want, out)
		}
	}
}

// TestExecutorJob: executorJob.enabled renders `upgate run` as a Job with
// the job driver, as the executor's ServiceAccount, --yes and the release
// namespace for the node Jobs, and the Role on Jobs there; by default
// neither is rendered; a missing rbac.executor, target or image is refused
// with a message naming it.
func TestExecutorJob(t *testing.T) {
	for _, d := range helmTemplate(t, "--set", "rbac.executor=true") {
		name, _ := d["metadata"].(map[string]any)["name"].(string)
		if d["kind"] == "Job" || strings.HasSuffix(name, "-executor-jobs") {
			t.Errorf("%s %s rendered by default", d["kind"], name)
		}
	}
	docs := helmTemplate(t, "--set", "rbac.executor=true", "--set", "executorJob.enabled=true",
		"--set", "executorJob.target=v1.37", "--set", "executorJob.driver.image=registry.example/up:1",
		"--set", "executorJob.driver.command=upgrade \"$UPGATE_NODE\" \"$UPGATE_TARGET\"",
		"--set", "executorJob.driver.serviceAccount=upgrader", "--set", "executorJob.extraArgs={--max-unavailable=2}",
		"--set", "executorJob.metricsPort=9090")
	job := find(docs, "Job")
	if job == nil {
		t.Fatal("no Job rendered with executorJob.enabled")
	}
	if name := job["metadata"].(map[string]any)["name"]; name != "rel-upgate-run-v1-37" {
		t.Errorf("Job name %v", name)
	}
	spec := job["spec"].(map[string]any)
	if spec["backoffLimit"] != float64(0) {
		t.Errorf("backoffLimit %v, want 0", spec["backoffLimit"])
	}
	if !strings.Contains(fmt.Sprint(spec["podFailurePolicy"]), "DisruptionTarget") {
		t.Errorf("podFailurePolicy %v: an eviction by the run's own drain would fail the Job", spec["podFailurePolicy"])
	}
	// Not serve's pod: the Service and serve's NetworkPolicy select by
	// app.kubernetes.io/name=upgate.
	if labels := spec["template"].(map[string]any)["metadata"].(map[string]any)["labels"].(map[string]any); labels["app.kubernetes.io/name"] != "upgate-run" {
		t.Errorf("run pod labels %v, want app.kubernetes.io/name=upgate-run", labels)
	}
	ps := spec["template"].(map[string]any)["spec"].(map[string]any)
	if ports := fmt.Sprint(ps["containers"].([]any)[0].(map[string]any)["ports"]); !strings.Contains(ports, "name:metrics") || !strings.Contains(ports, "containerPort:9090") {
		t.Errorf("run container ports %s, want metrics 9090", ports)
	}
	if ps["serviceAccountName"] != "rel-upgate-executor" || ps["restartPolicy"] != "Never" {
		t.Errorf("serviceAccountName %v restartPolicy %v", ps["serviceAccountName"], ps["restartPolicy"])
	}
	for _, v := range ps["volumes"].([]any) {
		if _, ok := v.(map[string]any)["emptyDir"]; ok {
			t.Errorf("the run's pod has an emptyDir: a safety.emptydir finding on its own node")
		}
	}
	args := asStrings(ps["containers"].([]any)[0].(map[string]any)["args"])
	for _, want := range []string{"run", "--target=v1.37", "--yes", "--driver=job", "--job-image=registry.example/up:1",
		`--job-command=upgrade "$UPGATE_NODE" "$UPGATE_TARGET"`, "--job-namespace=upgate-system",
		"--job-service-account=upgrader", "--lock-namespace=kube-system", "--config=/etc/upgate/upgate.yaml", "--max-unavailable=2", "--metrics-bind-address=:9090"} {
		if !slices.Contains(args, want) {
			t.Errorf("run args %q lack %q", args, want)
		}
	}
	var role map[string]any
	for _, d := range docs {
		if d["kind"] == "Role" && d["metadata"].(map[string]any)["name"] == "rel-upgate-executor-jobs" {
			role = d
		}
	}
	if role == nil {
		t.Fatal("no Role rel-upgate-executor-jobs rendered")
	}
	if ns := role["metadata"].(map[string]any)["namespace"]; ns != "upgate-system" {
		t.Errorf("jobs Role in %v, want the release namespace", ns)
	}
	if got := strings.Join(grants([]map[string]any{role}, ""), ","); got != "jobs create,jobs get,jobs list,jobs watch,jobs delete" {
		t.Errorf("jobs Role grants %s", got)
	}
	// rbac.executorJobs alone: the rights for a run started elsewhere.
	docs = helmTemplate(t, "--set", "rbac.executor=true", "--set", "rbac.executorJobs=true")
	if find(docs, "Job") != nil || !slices.Contains(grants(docs, "executor-jobs"), "jobs create") {
		t.Errorf("rbac.executorJobs=true: Job rendered %t, grants %v", find(docs, "Job") != nil, grants(docs, "executor-jobs"))
	}
	helm := tooltest.Require(t, "helm")
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{[]string{"executorJob.enabled=true", "executorJob.target=v1.37", "executorJob.driver.image=i"}, "needs rbac.create and rbac.executor"},
		{[]string{"executorJob.enabled=true", "rbac.executor=true", "executorJob.driver.image=i"}, "needs executorJob.target"},
		{[]string{"executorJob.enabled=true", "rbac.executor=true", "executorJob.target=v1.37"}, "needs executorJob.driver.image"},
		{[]string{"executorJob.enabled=true", "rbac.executor=true", "executorJob.target=latest", "executorJob.driver.image=i"}, "/executorJob/target"},
		{[]string{"executorJob.drivr.image=i"}, "additional properties 'drivr' not allowed"},
	} {
		args := []string{"template", "rel", "upgate"}
		for _, s := range tc.set {
			args = append(args, "--set", s)
		}
		out, err := exec.Command(helm, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: %v, want a refusal naming %q:\n%s", tc.set, err, tc.want, out)
		}
	}
}
