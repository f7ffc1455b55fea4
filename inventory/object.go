package inventory

import (
	"encoding/json"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// LastAppliedAnnotation is kubectl's record of the manifest last applied.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// object decodes one Kubernetes object into its typed list and records the
// API versions it uses. Kinds no check reads are counted and their API
// versions recorded (a removed Ingress version matters even though no
// Ingress field does), but their content is dropped.
// def supplies apiVersion and kind for items of a typed list (a PodList's
// items carry neither).
func (d *decoder) object(source string, raw []byte, record bool, def typeMeta) error {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return err
	}
	if head.Kind == "" && head.APIVersion == "" {
		head.APIVersion, head.Kind = def.APIVersion, def.Kind
	}
	if head.Kind == "" || head.APIVersion == "" {
		return errors.New("object has no apiVersion or kind")
	}
	if head.Metadata.Name == "" && head.Metadata.GenerateName == "" {
		return fmt.Errorf("%s has no metadata.name", head.Kind)
	}
	if record {
		d.inv.recordUsages(source, head.APIVersion, head.Kind, &head.Metadata)
	}
	add, known := decoders[head.Kind]
	if !known {
		if d.inv.Others == nil {
			d.inv.Others = map[string]int{}
		}
		d.inv.Others[head.Kind]++
		return nil
	}
	if err := add(d.inv, raw); err != nil {
		return fmt.Errorf("%s %s: %v", head.Kind, qualified(head.Metadata.Namespace, head.Metadata.Name), err)
	}
	return nil
}

func qualified(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// RecordUsages notes every API version an object is seen using: the version
// it was read at, the one its last-applied-configuration names, and those
// its managedFields entries record.
func (inv *Inventory) RecordUsages(source, apiVersion, kind string, meta *metav1.ObjectMeta) {
	inv.recordUsages(source, apiVersion, kind, meta)
}

func (inv *Inventory) recordUsages(source, apiVersion, kind string, meta *metav1.ObjectMeta) {
	add := func(v string, via UsageVia) {
		inv.APIUsages = append(inv.APIUsages, APIUsage{
			APIVersion: v, Kind: kind, Namespace: meta.Namespace, Name: meta.Name, Via: via, Source: source,
		})
	}
	add(apiVersion, ViaServed)
	if la, ok := meta.Annotations[LastAppliedAnnotation]; ok {
		var h struct {
			APIVersion string `json:"apiVersion"`
		}
		// A malformed annotation is kubectl's problem, not a reason to stop.
		if json.Unmarshal([]byte(la), &h) == nil && h.APIVersion != "" && h.APIVersion != apiVersion {
			add(h.APIVersion, ViaLastApplied)
		}
	}
	seen := map[string]bool{apiVersion: true}
	for _, mf := range meta.ManagedFields {
		if mf.APIVersion != "" && !seen[mf.APIVersion] {
			seen[mf.APIVersion] = true
			add(mf.APIVersion, ViaManagedFields)
		}
	}
}
