// Package charts holds upgate's Helm chart; its tests render the chart with
// the real helm CLI and check the alert rules with promtool.
package charts

import (
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/upgate-dev/upgate/internal/tooltest"
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
			if v != "get" && v != "list" {
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

func TestExplicitFalseAndZeroRender(t *testing.T) {
	docs := helmTemplate(t, "--set", "ignoreSafetyChecks=false", "--set", "target=v1.37")
	dep := find(docs, "Deployment")
	args := strings.Join(asStrings(dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["args"]), " ")
	for _, want := range []string{"--ignore-safety-checks=false", "--target=v1.37", "serve"} {
		if !strings.Contains(args, want) {
			t.Errorf("container args %q lack %q", args, want)
		}
	}
	docs = helmTemplate(t, "--set", "ignoreSafetyChecks=true", "--set", "signing.secretName=upgate-cosign")
	dep = find(docs, "Deployment")
	rendered, _ := yaml.Marshal(dep)
	for _, want := range []string{"--ignore-safety-checks=true", "--sign-key=/etc/upgate/signing/cosign.key", "COSIGN_PASSWORD", "secretName: upgate-cosign"} {
		if !strings.Contains(string(rendered), want) {
			t.Errorf("deployment with signing lacks %q", want)
		}
	}
}

func TestAlertRules(t *testing.T) {
	out, err := exec.Command(tooltest.Require(t, "promtool"), "check", "rules", "upgate/files/upgate.rules.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	docs := helmTemplate(t, "--set", "metrics.prometheusRule.enabled=true")
	if find(docs, "PrometheusRule") == nil {
		t.Errorf("PrometheusRule not rendered when enabled")
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
