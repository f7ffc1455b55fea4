package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodTemplate is what the pods of one template share: their generateName,
// labels and owners, and their PodShape. A snapshot writes each template
// once, in its head's podTemplates, and each pod as what is its own (name,
// namespace, node, volumes, status) with "template": the index of its
// template. At 150,000 pods that is a few thousand templates: most of a
// pod's bytes are written once per ReplicaSet, not once per pod, and the
// pods read back share one copy of them.
type PodTemplate struct {
	Metadata PodTemplateMeta `json:"metadata,omitzero"`
	Spec     PodShape        `json:"spec,omitzero"`
}

// PodTemplateMeta is the metadata the pods of one template share.
type PodTemplateMeta struct {
	GenerateName    string            `json:"generateName,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	OwnerReferences []ownerWire       `json:"ownerReferences,omitempty"`
}

// templateOf is the template part of a pod.
func templateOf(p *Pod) PodTemplate {
	m := metaWireOf(&p.ObjectMeta)
	return PodTemplate{
		Metadata: PodTemplateMeta{GenerateName: m.GenerateName, Labels: m.Labels, OwnerReferences: m.OwnerReferences},
		Spec:     p.Spec.PodShape,
	}
}

// podTemplates numbers the templates of a list of pods, in order of first
// use: the table a snapshot's head holds, and each pod's index in it.
func podTemplates(pods []*Pod) ([]PodTemplate, []int, error) {
	index := map[string]int{}
	var table []PodTemplate
	refs := make([]int, len(pods))
	var last *Pod
	for i, p := range pods {
		// Pods read from a snapshot share their template's parts: a pod
		// whose parts are the previous pod's has its template.
		if last != nil && sameTemplate(p, last) {
			refs[i] = refs[i-1]
			last = p
			continue
		}
		t := templateOf(p)
		key, err := json.Marshal(t)
		if err != nil {
			return nil, nil, fmt.Errorf("encode the template of pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		n, ok := index[string(key)]
		if !ok {
			n = len(table)
			index[string(key)] = n
			table = append(table, t)
		}
		refs[i], last = n, p
	}
	return table, refs, nil
}

// sameTemplate reports whether two pods share their template's parts in
// memory (not merely equal ones): a cheap test that never says yes wrongly.
func sameTemplate(a, b *Pod) bool {
	sa, sb := &a.Spec.PodShape, &b.Spec.PodShape
	return a.GenerateName == b.GenerateName &&
		sameRef(a.Labels, b.Labels) && sameRef(a.OwnerReferences, b.OwnerReferences) &&
		sameRef(sa.Containers, sb.Containers) && sameRef(sa.InitContainers, sb.InitContainers) &&
		sameRef(sa.NodeSelector, sb.NodeSelector) && sameRef(sa.Tolerations, sb.Tolerations) &&
		sameRef(sa.Overhead, sb.Overhead) && sa.Affinity == sb.Affinity && sa.Resources == sb.Resources
}

// sameRef reports whether two maps or slices are the same one in memory
// (both nil included), with the same length.
func sameRef[T any](x, y T) bool {
	a, b := reflect.ValueOf(x), reflect.ValueOf(y)
	return a.Pointer() == b.Pointer() && a.Len() == b.Len()
}

// templatedPod is a pod as a snapshot writes it: what is its own, and the
// index of its template.
type templatedPod struct {
	pod *Pod
	ref int
}

func (t templatedPod) MarshalJSON() ([]byte, error) {
	p := t.pod
	m := metaWireOf(&p.ObjectMeta)
	m.GenerateName, m.Labels, m.OwnerReferences = "", nil, nil
	ref := t.ref
	return json.Marshal(podWire{
		Metadata: m,
		Spec:     PodSpec{NodeName: p.Spec.NodeName, Volumes: p.Spec.Volumes},
		Status:   p.Status,
		Template: &ref,
	})
}

// sharedTemplate is a template as read, its parts ready for every pod of
// it to share.
type sharedTemplate struct {
	generateName string
	labels       map[string]string
	owners       []metav1.OwnerReference
	shape        PodShape
}

// templateTable is a snapshot's podTemplates as read.
type templateTable []sharedTemplate

// newTemplateTable reads a snapshot head's podTemplates. A 5,000-node
// snapshot holds some 50,000 of them, read before any pod: they are
// decoded on every core.
func newTemplateTable(raw []byte) (templateTable, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("podTemplates: %v", err)
	}
	return templateTableOf(elems)
}

// templateTableOf decodes a snapshot's podTemplates, given one by one.
func templateTableOf[E ~[]byte](elems []E) (templateTable, error) {
	table := make(templateTable, len(elems))
	workers := min(max(runtime.GOMAXPROCS(0), 1), max(len(elems)/512, 1))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(elems); i += workers {
				var t PodTemplate
				if err := json.Unmarshal(elems[i], &t); err != nil {
					errs[w] = fmt.Errorf("podTemplates[%d]: %v", i, err)
					return
				}
				// A pod of its own would build these parts so: build them
				// once, uninterned (every pod of the template shares them).
				pw := podWire{Metadata: metaWire{GenerateName: t.Metadata.GenerateName, Labels: t.Metadata.Labels, OwnerReferences: t.Metadata.OwnerReferences},
					Spec: PodSpec{PodShape: t.Spec}}
				p := pw.pod(false)
				table[i] = sharedTemplate{generateName: p.GenerateName, labels: p.Labels, owners: p.OwnerReferences, shape: p.Spec.PodShape}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return table, nil
}

// fill gives a pod item that names its template the template's parts.
func (tt templateTable) fill(w *podWire) error {
	n := *w.Template
	if n < 0 || n >= len(tt) {
		return fmt.Errorf("pod refers to pod template %d; the snapshot's podTemplates, read before its items, hold %d", n, len(tt))
	}
	if w.Metadata.GenerateName != "" || w.Metadata.Labels != nil || w.Metadata.OwnerReferences != nil || !isZeroShape(&w.Spec.PodShape) {
		return fmt.Errorf("pod refers to pod template %d but also sets its generateName, labels, owners or shape", n)
	}
	return nil
}

func isZeroShape(s *PodShape) bool {
	return s.NodeSelector == nil && s.Affinity == nil && s.Tolerations == nil && s.InitContainers == nil &&
		s.Containers == nil && s.Overhead == nil && s.Resources == nil
}

// pod builds the model of a pod item that names its template.
func (tt templateTable) pod(w *podWire) (*Pod, error) {
	if err := tt.fill(w); err != nil {
		return nil, err
	}
	t := &tt[*w.Template]
	p := &Pod{Status: w.Status}
	p.Name, p.Namespace, p.DeletionTimestamp = w.Metadata.Name, intern(w.Metadata.Namespace), w.Metadata.DeletionTimestamp
	if w.Metadata.Annotations != nil {
		p.Annotations = scrubAnnotations(w.Metadata.Annotations)
	}
	p.GenerateName, p.Labels, p.OwnerReferences = t.generateName, t.labels, t.owners
	p.Spec = PodSpec{NodeName: intern(w.Spec.NodeName), PodShape: t.shape, Volumes: keptVolumes(w.Spec.Volumes)}
	p.Status.Conditions = keptConditions(p.Status.Conditions)
	return p, nil
}
