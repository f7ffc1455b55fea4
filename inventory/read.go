package inventory

import (
	"bufio"
	"bytes"
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
)

// ErrBadInput marks input that cannot be read as cluster state: an
// unreadable or malformed file. Callers map it to the contract's exit 2.
var ErrBadInput = errors.New("bad input")

// StdinPath is the --from value that means standard input.
const StdinPath = "-"

// Read builds an inventory from files and directories (directories are read
// recursively, keeping .yaml, .yml and .json files) holding upgate snapshots,
// upgate JSON reports that recorded their snapshot, or plain manifests as
// `kubectl get -o yaml|json` writes them. "-" reads stdin.
func Read(paths []string, stdin io.Reader) (*Inventory, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no input given", ErrBadInput)
	}
	inv := &Inventory{}
	d := &decoder{inv: inv}
	for _, p := range paths {
		if p == StdinPath {
			if err := d.stream("<stdin>", stdin); err != nil {
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
	inv.Sort()
	return inv, nil
}

// expand lists the manifest files under p in lexical order.
func expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadInput, p, errors.Unwrap(err))
	}
	if !st.IsDir() {
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
			files = append(files, path)
		}
		return nil
	})
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
	inv *Inventory
	// sawVersion is the file that set inv.ServerVersion, to report conflicts.
	sawVersion string
}

func (d *decoder) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadInput, path, errors.Unwrap(err))
	}
	defer f.Close()
	return d.stream(path, f)
}

// stream decodes every document of one input: multi-document YAML, one JSON
// value, or a stream of JSON values.
func (d *decoder) stream(name string, r io.Reader) error {
	d.inv.Sources = append(d.inv.Sources, name)
	dec := yaml.NewYAMLOrJSONDecoder(bufio.NewReaderSize(r, 64<<10), 64<<10)
	objects := 0
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
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

// document decodes one top-level document and returns how many objects it held.
func (d *decoder) document(source string, raw []byte) (int, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if raw[0] != '{' {
		return 0, errors.New("not an object (want a Kubernetes object, a List or an upgate snapshot)")
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return 0, err
	}
	switch {
	case head.APIVersion == SnapshotAPIVersion && head.Kind == SnapshotKind:
		return d.snapshot(source, raw)
	case head.APIVersion == SnapshotAPIVersion && head.Kind == "Report":
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
	if err := d.object(source, raw, true, typeMeta{}); err != nil {
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
	n := 0
	for i, item := range l.Items {
		item = bytes.TrimSpace(item)
		if len(item) == 0 || item[0] != '{' {
			return n, fmt.Errorf("list item %d is not an object", i)
		}
		if err := d.object(source, item, true, def); err != nil {
			return n, fmt.Errorf("list item %d: %w", i, err)
		}
		n++
	}
	// An empty List is valid state (kubectl get of a kind with no objects).
	if n == 0 {
		return 1, nil
	}
	return n, nil
}

func (d *decoder) snapshot(source string, raw []byte) (int, error) {
	var s Snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("snapshot: %v", err)
	}
	if s.ServerVersion != "" {
		if d.inv.ServerVersion != "" && d.inv.ServerVersion != s.ServerVersion {
			return 0, fmt.Errorf("snapshot records server version %s but %s recorded %s: read one cluster at a time",
				s.ServerVersion, d.sawVersion, d.inv.ServerVersion)
		}
		d.inv.ServerVersion, d.sawVersion = s.ServerVersion, source
	}
	if s.CollectedAt.After(d.inv.CollectedAt) {
		d.inv.CollectedAt = s.CollectedAt
	}
	d.inv.DeprecatedRequests = append(d.inv.DeprecatedRequests, s.DeprecatedRequests...)
	// A snapshot carries the API usages the collector recorded; its items
	// are stored at one version with managedFields already dropped.
	d.inv.APIUsages = append(d.inv.APIUsages, s.APIUsages...)
	for k, n := range s.Others {
		if d.inv.Others == nil {
			d.inv.Others = map[string]int{}
		}
		d.inv.Others[k] += n
	}
	for i, item := range s.Items {
		if err := d.object(source, item, false, typeMeta{}); err != nil {
			return i, fmt.Errorf("snapshot item %d: %w", i, err)
		}
	}
	return len(s.Items) + 1, nil
}
