package policies

import (
	"errors"
	"fmt"
	"path"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
)

// IgnoreAnnotation lists the checks to ignore for an object, comma
// separated ("safety.emptydir,safety.singleton"), or "*" for all; a pattern
// such as "safety.*" also works. It applies to findings about the object,
// about what it controls, about pods on it (a node) or in it (a namespace).
const IgnoreAnnotation = "upgate.dev/ignore"

// IgnoredBySafetyFlag is IgnoredBy for findings --ignore-safety-checks let pass.
const IgnoredBySafetyFlag = "--ignore-safety-checks"

// Exception is a config-file exception. Check is a check ID, "*", or a
// pattern such as "safety.*" (path.Match syntax). Empty selector fields match
// anything; Kind and Name select the finding's subject or one of its
// controlling workloads (a Deployment's pods), Name may be a glob
// (path.Match); Namespace is the subject's namespace; Node the finding's node.
type Exception struct {
	Check     string `json:"check"`
	Namespace string `json:"namespace,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Name      string `json:"name,omitempty"`
	Node      string `json:"node,omitempty"`
}

// Validate reports an exception that can never match: no check, or a
// malformed pattern.
func (ex Exception) Validate() error {
	if ex.Check == "" {
		return errors.New("exception has no check (use \"*\" for every check)")
	}
	if _, err := path.Match(ex.Check, ""); err != nil {
		return fmt.Errorf("exception check %q: %w", ex.Check, err)
	}
	if _, err := path.Match(ex.Name, ""); err != nil {
		return fmt.Errorf("exception name %q: %w", ex.Name, err)
	}
	return nil
}

func (ex Exception) String() string {
	parts := []string{fmt.Sprintf("check %q", ex.Check)}
	for _, kv := range [][2]string{{"namespace", ex.Namespace}, {"kind", ex.Kind}, {"name", ex.Name}, {"node", ex.Node}} {
		if kv[1] != "" {
			parts = append(parts, fmt.Sprintf("%s %q", kv[0], kv[1]))
		}
	}
	return strings.Join(parts, ", ")
}

// IgnoreOptions says which findings are let pass.
type IgnoreOptions struct {
	// IgnoreSafetyChecks marks every safety.* finding ignored
	// (--ignore-safety-checks): they are reported, none blocks.
	IgnoreSafetyChecks bool
	// Exceptions come from the config file.
	Exceptions []Exception
}

// ApplyIgnores marks findings ignored (Ignored, IgnoredBy) by, in this order:
// the upgate.dev/ignore annotation on the subject, its controlling
// workloads (pod → ReplicaSet → Deployment), its node or its namespace; a
// config exception; --ignore-safety-checks. Findings already ignored are
// left as they are. inv may be nil (then only exceptions and the flag apply).
func ApplyIgnores(findings []finding.Finding, inv *inventory.Inventory, opts IgnoreOptions) {
	if len(findings) == 0 {
		return
	}
	if inv == nil {
		inv = &inventory.Inventory{}
	}
	ig := newIgnorer(inv)
	for i := range findings {
		f := &findings[i]
		if f.Ignored {
			continue
		}
		if by, ok := ig.match(f, opts); ok {
			f.Ignored, f.IgnoredBy = true, by
		}
	}
}

type ignorer struct {
	ix          *index
	annotations map[objRef]string
}

func newIgnorer(inv *inventory.Inventory) *ignorer {
	ig := &ignorer{ix: newIndex(inv, nil), annotations: map[objRef]string{}}
	add := func(kind string, m *metav1.ObjectMeta) {
		if v, ok := m.Annotations[IgnoreAnnotation]; ok {
			ig.annotations[objRef{kind, m.Namespace, m.Name}] = v
		}
	}
	for i := range inv.Nodes {
		add("Node", &inv.Nodes[i].ObjectMeta)
	}
	for i := range inv.Namespaces {
		add("Namespace", &inv.Namespaces[i].ObjectMeta)
	}
	for i := range inv.Pods {
		add("Pod", &inv.Pods[i].ObjectMeta)
	}
	for i := range inv.Deployments {
		add("Deployment", &inv.Deployments[i].ObjectMeta)
	}
	for i := range inv.ReplicaSets {
		add("ReplicaSet", &inv.ReplicaSets[i].ObjectMeta)
	}
	for i := range inv.StatefulSets {
		add("StatefulSet", &inv.StatefulSets[i].ObjectMeta)
	}
	for i := range inv.DaemonSets {
		add("DaemonSet", &inv.DaemonSets[i].ObjectMeta)
	}
	for i := range inv.Jobs {
		add("Job", &inv.Jobs[i].ObjectMeta)
	}
	for i := range inv.ReplicationControllers {
		add("ReplicationController", &inv.ReplicationControllers[i].ObjectMeta)
	}
	for i := range inv.Services {
		add("Service", &inv.Services[i].ObjectMeta)
	}
	for i := range inv.PodDisruptionBudgets {
		add("PodDisruptionBudget", &inv.PodDisruptionBudgets[i].ObjectMeta)
	}
	for i := range inv.PersistentVolumes {
		add("PersistentVolume", &inv.PersistentVolumes[i].ObjectMeta)
	}
	for i := range inv.PersistentVolumeClaims {
		add("PersistentVolumeClaim", &inv.PersistentVolumeClaims[i].ObjectMeta)
	}
	for i := range inv.ValidatingWebhooks {
		add("ValidatingWebhookConfiguration", &inv.ValidatingWebhooks[i].ObjectMeta)
	}
	for i := range inv.MutatingWebhooks {
		add("MutatingWebhookConfiguration", &inv.MutatingWebhooks[i].ObjectMeta)
	}
	return ig
}

// related lists the objects whose annotation or selection applies to a
// finding: its subject, then the subject's controlling workloads, nearest
// first.
func (ig *ignorer) related(f *finding.Finding) (subject objRef, controllers []objRef, node string) {
	subject = objRef{f.Subject.Kind, f.Subject.Namespace, f.Subject.Name}
	node = f.Node
	if subject.Kind == "Pod" {
		if p := ig.ix.pod(subject.Namespace, subject.Name); p != nil {
			if c, ok := podController(p); ok {
				controllers = append(controllers, c)
				controllers = append(controllers, ig.ix.controllers(c)...)
			}
			if node == "" {
				node = p.Spec.NodeName
			}
		}
	} else {
		controllers = ig.ix.controllers(subject)
	}
	if subject.Kind == "Node" && node == "" {
		node = subject.Name
	}
	return subject, controllers, node
}

func (ig *ignorer) match(f *finding.Finding, opts IgnoreOptions) (string, bool) {
	subject, controllers, node := ig.related(f)

	if len(ig.annotations) > 0 {
		candidates := append([]objRef{subject}, controllers...)
		if node != "" {
			candidates = append(candidates, objRef{"Node", "", node})
		}
		if subject.Namespace != "" {
			candidates = append(candidates, objRef{"Namespace", "", subject.Namespace})
		}
		for _, o := range candidates {
			if v, ok := ig.annotations[o]; ok && annotationMatches(v, f.Check) {
				return fmt.Sprintf("annotation %s=%q on %s", IgnoreAnnotation, v, o), true
			}
		}
	}

	for i, ex := range opts.Exceptions {
		if exceptionMatches(ex, f.Check, subject, controllers, node) {
			return fmt.Sprintf("config exception %d (%s)", i+1, ex), true
		}
	}

	if opts.IgnoreSafetyChecks && strings.HasPrefix(f.Check, "safety.") {
		return IgnoredBySafetyFlag, true
	}
	return "", false
}

// annotationMatches reports whether an annotation value lists the check.
func annotationMatches(value, check string) bool {
	for _, p := range strings.Split(value, ",") {
		if checkMatches(strings.TrimSpace(p), check) {
			return true
		}
	}
	return false
}

// checkMatches matches a check ID against an ID, "*" or a pattern such as
// "safety.*".
func checkMatches(pattern, check string) bool {
	if pattern == "" {
		return false
	}
	if pattern == check {
		return true
	}
	ok, err := path.Match(pattern, check)
	return err == nil && ok
}

func exceptionMatches(ex Exception, check string, subject objRef, controllers []objRef, node string) bool {
	if !checkMatches(ex.Check, check) {
		return false
	}
	if ex.Namespace != "" && ex.Namespace != subject.Namespace {
		return false
	}
	if ex.Node != "" && ex.Node != node {
		return false
	}
	if ex.Kind == "" && ex.Name == "" {
		return true
	}
	for _, o := range append([]objRef{subject}, controllers...) {
		if ex.Kind != "" && !strings.EqualFold(ex.Kind, o.Kind) {
			continue
		}
		if ex.Name != "" {
			if ok, err := path.Match(ex.Name, o.Name); err != nil || !ok {
				continue
			}
		}
		return true
	}
	return false
}
