package inventory

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// ErrBadInput marks input that cannot be read as cluster state: an
// unreadable or malformed file. Callers map it to the contract's exit 2.
var ErrBadInput = errors.New("bad input")

// StdinPath is the --from value that means standard input.
const StdinPath = "-"

// Read builds an inventory from files and directories (directories are read
// recursively, keeping .yaml, .yml and .json files) holding upgate snapshots,
// upgate JSON reports that recorded their snapshot, or plain manifests as
// `kubectl get -o yaml|json` writes them. "-" reads stdin. It is ReadContext
// with no cancellation and the default bounds.
func Read(paths []string, stdin io.Reader) (*Inventory, error) {
	return ReadContext(context.Background(), paths, stdin, ReadOptions{})
}

// ReadContext is Read, bounded: only regular files are read (a FIFO or a
// device such as /dev/zero is refused, in a directory too; stdin may be
// any stream), all inputs together may hold at most opts.MaxBytes, and a
// cancelled ctx ends the read, even one waiting on stdin. Input refused
// or malformed is an error wrapping ErrBadInput; a cancelled read returns
// ctx's cause.
func ReadContext(ctx context.Context, paths []string, stdin io.Reader, opts ReadOptions) (*Inventory, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no input given", ErrBadInput)
	}
	inv := &Inventory{}
	max := opts.maxBytes()
	d := &decoder{ctx: ctx, inv: inv, budget: &budget{max: max, left: max}}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		if p == StdinPath {
			if stdin == nil {
				return nil, fmt.Errorf("%w: <stdin>: no standard input", ErrBadInput)
			}
			in := newInterruptible(ctx, stdin)
			err := d.stream("<stdin>", in)
			in.close()
			if err != nil {
				return nil, err
			}
			continue
		}
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := d.file(f); err != nil {
				return nil, err
			}
		}
	}
	inv.InputDigest = d.inputDigest()
	inv.Sort()
	return inv, nil
}

// inputDigest combines the digests of the inputs read: one input's digest
// is the sha256 of its bytes (what sha256sum prints for the file); several
// are hashed as "sha256:<hex>  <name>" lines in the order read.
func (d *decoder) inputDigest() string {
	if len(d.digests) == 1 {
		return d.digests[0].sum
	}
	h := sha256.New()
	for _, in := range d.digests {
		fmt.Fprintf(h, "%s  %s\n", in.sum, in.name)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// expand lists the manifest files under p in lexical order.
func expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadInput, p, errors.Unwrap(err))
	}
	if !st.IsDir() {
		// A FIFO or a device is refused when it is opened.
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if path != p && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		if !e.Type().IsRegular() {
			// A symbolic link is read if it leads to a regular file (a
			// mounted ConfigMap's files are links); a manifest-named FIFO,
			// device or socket is refused: skipping it would judge the
			// rest as if it were all.
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			if err := regular(path, st.Mode()); err != nil {
				return err
			}
		}
		files = append(files, path)
		return nil
	})
	if errors.Is(err, ErrBadInput) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadInput, p, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: %s: directory holds no .yaml, .yml or .json file", ErrBadInput, p)
	}
	sort.Strings(files)
	return files, nil
}

type decoder struct {
	ctx context.Context
	inv *Inventory
	// budget is what the inputs may still hold.
	budget *budget
	// sawVersion is the file that set inv.ServerVersion, to report conflicts.
	sawVersion string
	// digests are the sha256 of each input read, in order.
	digests []inputSum
}

type inputSum struct{ name, sum string }

func (d *decoder) file(path string) error {
	f, size, err := openRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if size > d.budget.left {
		return d.budget.tooLarge(path)
	}
	return d.stream(path, f)
}

// stream decodes every document of one input: multi-document YAML, one JSON
// value, or a stream of JSON values.
func (d *decoder) stream(name string, in io.Reader) error {
	g := &guard{ctx: d.ctx, r: in, name: name, budget: d.budget}
	// Hash the input as it is read: a report names what it was computed
	// from without encoding the state again.
	h := sha256.New()
	r := io.TeeReader(g, h)
	err := d.decodeStream(name, r)
	if err == nil {
		_, err = io.Copy(io.Discard, r)
		if err != nil {
			err = fmt.Errorf("%w: %s: %v", ErrBadInput, name, err)
		}
	}
	if g.err != nil {
		// Refused (too large, binary) or cancelled: say that, not what
		// the decoder made of the input cut short.
		return g.err
	}
	if err != nil {
		return err
	}
	d.digests = append(d.digests, inputSum{name, "sha256:" + hex.EncodeToString(h.Sum(nil))})
	return nil
}

func (d *decoder) decodeStream(name string, r io.Reader) error {
	d.inv.Sources = append(d.inv.Sources, name)
	br := bufio.NewReaderSize(r, 256<<10)
	if looksLikeJSON(br) {
		return d.jsonStream(name, br)
	}
	// Documents are converted strictly: a mapping that repeats a key is
	// malformed, not one whose last value silently wins (dupkeys.go).
	docs := yaml.NewYAMLReader(br)
	objects := 0
	for doc := 1; ; doc++ {
		text, err := docs.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("%w: %s: document %d: %v", ErrBadInput, name, doc, err)
		}
		raw, err := sigsyaml.YAMLToJSONStrict(text)
		if err != nil {
			return fmt.Errorf("%w: %s: document %d: %v", ErrBadInput, name, doc, err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue // an empty YAML document, as between two "---"
		}
		n, err := d.document(name, raw)
		if err != nil {
			return fmt.Errorf("%w: %s: document %d: %v", ErrBadInput, name, doc, err)
		}
		objects += n
	}
	if objects == 0 {
		return fmt.Errorf("%w: %s: no Kubernetes object found", ErrBadInput, name)
	}
	return nil
}

// looksLikeJSON reports whether the input's first non-space byte opens a
// JSON object, as the YAML-or-JSON decoder decides.
func looksLikeJSON(br *bufio.Reader) bool {
	for n := 1; ; n *= 2 {
		b, err := br.Peek(n)
		rest := skipSpace(b)
		if len(rest) > 0 {
			return rest[0] == '{'
		}
		if err != nil || n >= br.Size() {
			return false
		}
	}
}

// jsonStream decodes a stream of JSON values without holding any one of
// them whole: the items of a list or snapshot are decoded one by one as
// they are read (see jsonDocument).
func (d *decoder) jsonStream(name string, r io.Reader) error {
	sc := newScanner(r)
	objects := 0
	for doc := 1; ; doc++ {
		n, err := d.jsonDocument(name, sc)
		if err != nil {
			if errors.Is(err, io.EOF) && n < 0 {
				break
			}
			return fmt.Errorf("%w: %s: document %d: %v", ErrBadInput, name, doc, err)
		}
		objects += n
	}
	if objects == 0 {
		return fmt.Errorf("%w: %s: no Kubernetes object found", ErrBadInput, name)
	}
	return nil
}

// field is one top-level member of a JSON document, in input order.
type field struct {
	key string
	raw json.RawMessage
}

// jsonDocument reads one top-level JSON value and returns how many objects
// it held; n is -1 with io.EOF at the end of the stream. Members are read
// one at a time; when "items" comes after an apiVersion and kind that make
// the document a snapshot or a list (as upgate writes snapshots), its
// elements go straight to the decoding pipeline. Otherwise (kubectl writes
// a List's kind after its items) the elements are kept, each alone, and
// decoded once the document's kind is known.
func (d *decoder) jsonDocument(source string, sc *scanner) (int, error) {
	c, err := sc.peek()
	if err != nil {
		return -1, err
	}
	if c != '{' {
		raw, err := sc.value()
		if err != nil {
			return 0, err
		}
		if string(raw) == "null" {
			return 0, nil // as an empty YAML document
		}
		return 0, errors.New("not an object (want a Kubernetes object, a List or an upgate snapshot)")
	}
	sc.pos++
	var (
		fields     []field
		apiVersion string
		kind       string
		items      []json.RawMessage
		hasItems   bool
		streamed   *pipeline
		// templates are a snapshot's podTemplates, read before its items.
		templates templateTable
	)
	if c, err := sc.peek(); err != nil {
		return 0, unexpectedEOF(err)
	} else if c == '}' {
		sc.pos++
		return d.document(source, []byte("{}"))
	}
	var names []string
	for {
		key, err := sc.key()
		if err != nil {
			return 0, err
		}
		for _, n := range names {
			if strings.EqualFold(n, key) {
				return 0, &errDuplicate{first: n, again: key}
			}
		}
		names = append(names, key)
		switch {
		case key == "podTemplates" && templates == nil && isSnapshot(apiVersion, kind):
			// Tens of MB at 5,000 nodes: read one template at a time (as
			// items are), not as one value the scanner must hold whole.
			var elems []json.RawMessage
			if err := sc.elements(func(e json.RawMessage) error { elems = append(elems, e); return nil }); err != nil {
				return 0, fmt.Errorf("snapshot: podTemplates: %w", err)
			}
			tt, err := templateTableOf(elems)
			if err != nil {
				return 0, fmt.Errorf("snapshot: %w", err)
			}
			templates = tt
		case key == "items" && !hasItems && streamed == nil:
			if p := d.itemPipeline(source, apiVersion, kind); p != nil {
				if err := useTemplates(p, fields, apiVersion, kind, templates); err != nil {
					return 0, err
				}
				if err := sc.elements(p.add); err != nil {
					p.finish()
					if p.err != nil {
						return 0, p.err
					}
					return 0, err
				}
				streamed = p
				break
			}
			if c, err := sc.peek(); err != nil {
				return 0, unexpectedEOF(err)
			} else if c == '[' {
				err := sc.elements(func(it json.RawMessage) error { items = append(items, it); return nil })
				if err != nil {
					return 0, err
				}
				hasItems = true
				break
			}
			raw, err := sc.value()
			if err != nil {
				return 0, err
			}
			fields = append(fields, field{key, raw})
		default:
			raw, err := sc.value()
			if err != nil {
				return 0, err
			}
			fields = append(fields, field{key, raw})
			switch key {
			case "apiVersion":
				_ = json.Unmarshal(raw, &apiVersion)
			case "kind":
				_ = json.Unmarshal(raw, &kind)
			}
		}
		more, err := sc.next('}')
		if err != nil {
			return 0, err
		}
		if !more {
			break
		}
	}

	// finish waits for the items' pipeline and counts the document's
	// objects; a snapshot's head (read after its items) is applied last.
	finish := func(p *pipeline) (int, error) {
		n, err := p.finish()
		if err != nil {
			return 0, err
		}
		if isSnapshot(apiVersion, kind) {
			s, err := d.snapshotHead(source, object(fields))
			if err != nil {
				return 0, err
			}
			p.unimply(s.NotServed)
			return n + 1, nil
		}
		if n == 0 {
			return 1, nil // an empty List is valid state
		}
		return n, nil
	}
	if streamed != nil {
		return finish(streamed)
	}
	if hasItems {
		if p := d.itemPipeline(source, apiVersion, kind); p != nil {
			if err := useTemplates(p, fields, apiVersion, kind, templates); err != nil {
				return 0, err
			}
			for _, it := range items {
				if p.add(it) != nil {
					break
				}
			}
			return finish(p)
		}
		raw, err := json.Marshal(items)
		if err != nil {
			return 0, err
		}
		fields = append(fields, field{"items", raw})
	}
	// Anything else (one object, a report, a list whose items are not a
	// list): decode it whole.
	return d.document(source, object(fields))
}

// useTemplates gives a snapshot's pipeline the snapshot's pod templates,
// read from its members before items (as upgate writes them; a pod item
// naming a template the pipeline lacks is an error).
func useTemplates(p *pipeline, fields []field, apiVersion, kind string, read templateTable) error {
	if !isSnapshot(apiVersion, kind) {
		return nil
	}
	p.templates = read
	for _, f := range fields {
		if f.key == "counts" {
			var counts map[string]int
			if json.Unmarshal(f.raw, &counts) == nil {
				p.inv.grow(counts)
			}
		}
		if f.key == "podTemplates" {
			tt, err := newTemplateTable(f.raw)
			if err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			p.templates = tt
		}
	}
	return nil
}

// itemPipeline returns the pipeline for the items of a document of this
// apiVersion and kind, or nil when such a document's items are not
// Kubernetes objects (or its kind is not known yet). Its items come from
// the scanner, which checked their member names.
func (d *decoder) itemPipeline(source, apiVersion, kind string) *pipeline {
	p := d.newItemPipeline(source, apiVersion, kind)
	if p != nil {
		p.checked = true
	}
	return p
}

func (d *decoder) newItemPipeline(source, apiVersion, kind string) *pipeline {
	switch {
	case isSnapshot(apiVersion, kind):
		return newSnapshotPipeline(d.inv, source, apiVersion)
	case strings.HasPrefix(apiVersion, ourGroup):
		return nil // a report, or a kind of ours this reader does not know
	case kind == "List":
		return newPipeline(d.inv, source, recordAll, typeMeta{}, listItemError)
	case strings.HasSuffix(kind, "List") && apiVersion != "":
		return newPipeline(d.inv, source, recordAll, typeMeta{APIVersion: apiVersion, Kind: strings.TrimSuffix(kind, "List")}, listItemError)
	}
	return nil
}

// newSnapshotPipeline decodes the items of a snapshot of apiVersion: a
// v1alpha1 snapshot's head holds every usage of its items; a v1alpha2
// snapshot's leaves out the served ones (snapshot.go), which its items
// record.
func newSnapshotPipeline(inv *Inventory, source, apiVersion string) *pipeline {
	record := recordNone
	if apiVersion == SnapshotAPIVersion {
		record = recordServed
	}
	return newPipeline(inv, source, record, typeMeta{}, func(i int, err error) error {
		return fmt.Errorf("snapshot item %d: %w", i, err)
	})
}

var errNotObject = errors.New("not an object")

func listItemError(i int, err error) error {
	if errors.Is(err, errNotObject) {
		return fmt.Errorf("list item %d is not an object", i)
	}
	return fmt.Errorf("list item %d: %w", i, err)
}

// object encodes fields as a JSON object.
func object(fields []field) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(f.raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// document decodes one top-level document and returns how many objects it held.
func (d *decoder) document(source string, raw []byte) (int, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if raw[0] != '{' {
		return 0, errors.New("not an object (want a Kubernetes object, a List or an upgate snapshot)")
	}
	if err := checkDuplicates(raw); err != nil {
		return 0, err
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return 0, err
	}
	switch {
	case isSnapshot(head.APIVersion, head.Kind):
		return d.snapshot(source, raw)
	case strings.HasPrefix(head.APIVersion, ourGroup) && head.Kind == "Report":
		var rep struct {
			Snapshot json.RawMessage `json:"snapshot"`
		}
		if err := json.Unmarshal(raw, &rep); err != nil {
			return 0, fmt.Errorf("report: %v", err)
		}
		if len(rep.Snapshot) == 0 || bytes.Equal(rep.Snapshot, []byte("null")) {
			return 0, errors.New("report has no recorded snapshot (write it with --format json from a run that recorded one)")
		}
		return d.snapshot(source, rep.Snapshot)
	case head.Kind == "List":
		return d.list(source, raw, typeMeta{})
	case strings.HasSuffix(head.Kind, "List") && head.APIVersion != "":
		return d.list(source, raw, typeMeta{APIVersion: head.APIVersion, Kind: strings.TrimSuffix(head.Kind, "List")})
	}
	p := newPipeline(d.inv, source, recordAll, typeMeta{}, func(_ int, err error) error { return err })
	p.add(raw)
	if _, err := p.finish(); err != nil {
		if errors.Is(err, errNotObject) {
			return 0, errors.New("not an object (want a Kubernetes object, a List or an upgate snapshot)")
		}
		return 0, err
	}
	return 1, nil
}

func (d *decoder) list(source string, raw []byte, def typeMeta) (int, error) {
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return 0, fmt.Errorf("list: %v", err)
	}
	p := newPipeline(d.inv, source, recordAll, def, listItemError)
	for _, it := range l.Items {
		if p.add(it) != nil {
			break
		}
	}
	n, err := p.finish()
	if err != nil {
		return n, err
	}
	// An empty List is valid state (kubectl get of a kind with no objects).
	if n == 0 {
		return 1, nil
	}
	return n, nil
}

func (d *decoder) snapshot(source string, raw []byte) (int, error) {
	var s struct {
		PodTemplates json.RawMessage   `json:"podTemplates"`
		Items        []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("snapshot: %v", err)
	}
	head, err := d.snapshotHead(source, raw)
	if err != nil {
		return 0, err
	}
	p := newSnapshotPipeline(d.inv, source, head.APIVersion)
	if len(s.PodTemplates) > 0 {
		tt, err := newTemplateTable(s.PodTemplates)
		if err != nil {
			return 0, fmt.Errorf("snapshot: %w", err)
		}
		p.templates = tt
	}
	for _, it := range s.Items {
		if p.add(it) != nil {
			break
		}
	}
	n, err := p.finish()
	if err != nil {
		return n, err
	}
	p.unimply(head.NotServed)
	return len(s.Items) + 1, nil
}

// snapshotHead takes what a snapshot records besides its items, and
// returns the head.
func (d *decoder) snapshotHead(source string, raw []byte) (*Snapshot, error) {
	var head struct {
		Snapshot
		// Read with the items (useTemplates, snapshot).
		PodTemplates skip `json:"podTemplates"`
	}
	s := &head.Snapshot
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("snapshot: %v", err)
	}
	if s.ServerVersion != "" {
		if d.inv.ServerVersion != "" && d.inv.ServerVersion != s.ServerVersion {
			return nil, fmt.Errorf("snapshot records server version %s but %s recorded %s: read one cluster at a time",
				s.ServerVersion, d.sawVersion, d.inv.ServerVersion)
		}
		d.inv.ServerVersion, d.sawVersion = s.ServerVersion, source
	}
	if s.CollectedAt.After(d.inv.CollectedAt) {
		d.inv.CollectedAt = s.CollectedAt
	}
	d.inv.DeprecatedRequests = append(d.inv.DeprecatedRequests, s.DeprecatedRequests...)
	d.inv.NodeStats = append(d.inv.NodeStats, s.NodeStats...)
	// A snapshot carries the API usages the collector recorded (a
	// v1alpha2 one but those its items imply); its items are stored at
	// one version with managedFields already dropped.
	d.inv.APIUsages = append(d.inv.APIUsages, s.APIUsages...)
	for k, n := range s.Others {
		if d.inv.Others == nil {
			d.inv.Others = map[string]int{}
		}
		d.inv.Others[k] += n
	}
	return s, nil
}
