package synth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ManifestOptions shape WriteManifests' output.
type ManifestOptions struct {
	// Roots writes only what a user creates, for applying to a live
	// cluster: no pods that controllers create, no ReplicaSets or
	// EndpointSlices, no uid, resourceVersion, creationTimestamp,
	// managedFields or owner references, no status except the nodes'
	// (the API server keeps a Node's status on create), and headless
	// Services (a big cluster has more Services than a small service CIDR
	// has addresses). PersistentVolumes keep their claim reference by
	// name, so the claims bind to them without a provisioner.
	Roots bool
	// Compact writes each object cut down to what a minimal real object
	// carries and the checks read (compact.go): no managedFields, probes,
	// env, timestamps, IPs and the like. It implies Unindented.
	Compact bool
	// Unindented writes the List as an API server sends it: no
	// indentation, one item a line.
	Unindented bool
}

// WriteManifests writes st as `kubectl get -o json` writes a list: one
// `kind: List` document, items carrying apiVersion and kind, indented by
// four spaces (opts.Unindented: one item a line, as an API server sends
// it). Items are streamed: the whole document is never held.
func WriteManifests(w io.Writer, st *State, opts ManifestOptions) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	flat := opts.Unindented || opts.Compact
	head, sep, tail := "{\n    \"apiVersion\": \"v1\",\n    \"items\": [", "\n        ",
		"\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
	if flat {
		head, sep, tail = `{"apiVersion":"v1","items":[`, "\n", "\n],\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"}}\n"
	}
	if _, err := bw.WriteString(head); err != nil {
		return err
	}
	first := true
	var raw, ind bytes.Buffer
	var err error
	each(st, func(apiVersion, kind string, o object) {
		if err != nil {
			return
		}
		var v any = o.ptr
		if opts.Roots {
			if v = roots(kind, o); v == nil {
				return
			}
		}
		if opts.Compact && !opts.Roots {
			v = compact(o)
		}
		raw.Reset()
		if err = typed(&raw, apiVersion, kind, v); err != nil {
			return
		}
		out := raw.Bytes()
		if opts.Compact {
			out = dropNullTimes(out)
		}
		if !flat {
			ind.Reset()
			if err = json.Indent(&ind, out, "        ", "    "); err != nil {
				return
			}
			out = ind.Bytes()
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		bw.WriteString(sep)
		_, err = bw.Write(out)
	})
	if err != nil {
		return err
	}
	if _, err := bw.WriteString(tail); err != nil {
		return err
	}
	return bw.Flush()
}

// typed writes v's JSON with apiVersion and kind first, as the API server
// does (typed objects from client-go leave TypeMeta empty).
func typed(buf *bytes.Buffer, apiVersion, kind string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	if len(b) < 2 || b[0] != '{' {
		return fmt.Errorf("encode %s: not an object", kind)
	}
	fmt.Fprintf(buf, `{"apiVersion":%q,"kind":%q`, apiVersion, kind)
	if len(b) > 2 {
		buf.WriteByte(',')
	}
	buf.Write(b[1:])
	return nil
}

// nullTimes are the timestamps compact objects leave unset, which
// metav1.Time writes as null rather than leaving out.
var nullTimes = [][]byte{
	[]byte(`"creationTimestamp":null`), []byte(`"lastProbeTime":null`), []byte(`"lastTransitionTime":null`),
	[]byte(`"lastHeartbeatTime":null`), []byte(`"startedAt":null`), []byte(`"finishedAt":null`),
}

// emptyTemplate is a workload's pod template once Scrub has emptied it.
var emptyTemplate = []byte(`,"template":{"metadata":{},"spec":{"containers":null}}`)

// dropNullTimes removes an emptied template and nullTimes' members from
// compact JSON, with the comma that separated each from its neighbour. A string holding one of
// them is escaped (\"), so it never matches.
func dropNullTimes(b []byte) []byte {
	b = bytes.ReplaceAll(b, emptyTemplate, nil)
	for _, k := range nullTimes {
		if !bytes.Contains(b, k) {
			continue
		}
		b = bytes.ReplaceAll(b, append([]byte{','}, k...), nil)
		b = bytes.ReplaceAll(b, append(append([]byte(nil), k...), ','), nil)
		b = bytes.ReplaceAll(b, k, nil)
	}
	return b
}

// roots returns a copy of what a user would create of o, or nil when a
// controller creates it.
func roots(kind string, o object) any {
	m := o.meta()
	switch kind {
	case "ReplicaSet", "EndpointSlice", "Job":
		// Jobs too: their selector names the uid of the Job they were
		// generated as, which a new Job cannot have.
		return nil
	case "Pod":
		if c := metav1.GetControllerOf(m); c != nil && c.Kind != "Node" {
			return nil
		}
	}
	strip := func(m *metav1.ObjectMeta) {
		m.UID, m.ResourceVersion, m.Generation = "", "", 0
		m.CreationTimestamp = metav1.Time{}
		m.ManagedFields, m.OwnerReferences = nil, nil
	}
	switch p := o.ptr.(type) {
	case *corev1.Node:
		c := *p
		strip(&c.ObjectMeta)
		return &c
	case *corev1.Pod:
		c := *p
		strip(&c.ObjectMeta)
		c.Status = corev1.PodStatus{}
		return &c
	case *corev1.Service:
		c := *p
		strip(&c.ObjectMeta)
		c.Spec.ClusterIP, c.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
		c.Status = corev1.ServiceStatus{}
		return &c
	case *corev1.PersistentVolume:
		c := *p
		strip(&c.ObjectMeta)
		if c.Spec.ClaimRef != nil {
			ref := *c.Spec.ClaimRef
			ref.UID, ref.ResourceVersion = "", ""
			c.Spec.ClaimRef = &ref
		}
		c.Status = corev1.PersistentVolumeStatus{}
		return &c
	case *corev1.PersistentVolumeClaim:
		c := *p
		strip(&c.ObjectMeta)
		c.Annotations = nil
		c.Status = corev1.PersistentVolumeClaimStatus{}
		return &c
	}
	// Everything else: strip metadata and drop status through a generic
	// round trip.
	b, err := json.Marshal(o.ptr)
	if err != nil {
		return nil
	}
	var u map[string]any
	if json.Unmarshal(b, &u) != nil {
		return nil
	}
	delete(u, "status")
	if md, ok := u["metadata"].(map[string]any); ok {
		for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences"} {
			delete(md, k)
		}
	}
	return u
}

// WriteSnapshot writes st as `upgate snapshot` would have collected it:
// API usages recorded and objects scrubbed (Collected, which changes inv),
// then inventory's own snapshot encoding.
func WriteSnapshot(w io.Writer, st *State) error {
	inv := Collected(st)
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := inv.WriteSnapshot(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// Formats WriteFile writes.
const (
	FormatSnapshot  = "snapshot"
	FormatManifests = "manifests"
	// FormatCompact is a kubectl-style List of small objects: only what a
	// minimal real object carries and the checks read
	// (ManifestOptions.Compact), one a line: about 1.2 KB a pod, 978
	// bytes an object on average.
	FormatCompact = "compact"
	// FormatAPIServer is the List as an API server sends it: FormatManifests'
	// objects unindented (ManifestOptions.Unindented). With
	// Options.ManagedFields, the real-shaped dump issue 14 measures.
	FormatAPIServer = "apiserver"
)

// Formats is every format WriteFile writes.
var Formats = []string{FormatSnapshot, FormatManifests, FormatCompact, FormatAPIServer}

// WriteFile generates the cluster and writes it to path in format
// (one of Formats), through a temporary file renamed into place, so a
// reader never sees half a file.
func WriteFile(path, format string, opts Options, mopts ManifestOptions) error {
	switch format {
	case FormatSnapshot, FormatManifests:
	case FormatCompact:
		mopts.Compact = true
	case FormatAPIServer:
		mopts.Unindented = true
	default:
		return fmt.Errorf("synth: format %q is not one of %v", format, Formats)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".synth-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	inv := Cluster(opts)
	if format == FormatSnapshot {
		err = WriteSnapshot(tmp, inv)
	} else {
		err = WriteManifests(tmp, inv, mopts)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// CachedFile returns the path of the cluster opts describes in format under
// dir, generating it first if it is not there yet. Benchmarks share these
// files; the name holds every option, so a cached file is never stale
// unless the generator itself changed (bump GeneratorVersion then).
func CachedFile(dir, format string, opts Options) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("synth-g%d-%s.%s.json", GeneratorVersion, opts, format))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	return path, WriteFile(path, format, opts, ManifestOptions{})
}

// GeneratorVersion names the generator's (and writers') output in cached file names:
// bump it whenever a change makes the same Options give other objects.
const GeneratorVersion = 6 // 6: snapshots are upgate.dev/v1alpha2 (pod templates)
