package inventory

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadRefusesDuplicateMembers(t *testing.T) {
	node := `"metadata":{"name":"n"}`
	for _, tt := range []struct{ name, in, want string }{
		{"kind twice", `{"apiVersion":"v1","kind":"Node","kind":"Pod",` + node + `}`, `"kind" appears twice`},
		{"kind in another case", `{"apiVersion":"v1","kind":"Node","Kind":"Pod",` + node + `}`, `"kind" and "Kind"`},
		{"kind escaped", `{"apiVersion":"v1","kind":"Node","kin\u0064":"Pod",` + node + `}`, `"kind" appears twice`},
		{"kind with a Kelvin sign", `{"apiVersion":"v1","kind":"Node","\u212aind":"Pod",` + node + `}`, `"kind" and "` + "\u212a" + `ind"`},
		{"apiVersion twice", `{"apiVersion":"v1","kind":"Node","APIVERSION":"apps/v1",` + node + `}`, `"apiVersion" and "APIVERSION"`},
		{"metadata twice", `{"apiVersion":"v1","kind":"Node",` + node + `,"metadata":{"name":"m"}}`, `"metadata" appears twice`},
		{"name twice", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"a","namespace":"x","Name":"b"}}`, `"name" and "Name"`},
		{"in a streamed list item", `{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Node",` + node + `},{"apiVersion":"v1","kind":"Node","kind":"Pod",` + node + `}]}`, "item 1: member"},
		{"in a kubectl List item", `{"apiVersion":"v1","items":[{"kind":"Node","KIND":"Pod","apiVersion":"v1",` + node + `}],"kind":"List"}`, "item 0: members"},
		{"the list's own kind", `{"apiVersion":"v1","kind":"List","items":[],"kind":"PodList"}`, `"kind" appears twice`},
		{"in a snapshot item", `{"apiVersion":"upgate.dev/v1alpha1","kind":"Snapshot","items":[{"apiVersion":"v1","kind":"Node","kind":"Pod",` + node + `}]}`, "item 0: member"},
		{"YAML key twice", "apiVersion: v1\nkind: Node\nkind: Pod\nmetadata: {name: n}\n", `"kind" already set`},
		{"YAML key in another case", "apiVersion: v1\nkind: Node\nKind: Pod\nmetadata: {name: n}\n", `"Kind" and "kind"`},
		{"name twice in a streamed item", `{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Node","metadata":{"labels":{"a":"b"},"name":"a","Name":"b"}}]}`, `item 0: members "name" and "Name"`},
		{"in a list decoded whole", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Node, Kind: Pod, metadata: {name: a}}\n", "list item 0"},
		{"YAML List item", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: a, name: b}\n", "already set"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Read([]string{"-"}, strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("read %d nodes and %d pods, want an error", len(inv.Nodes), len(inv.Pods))
			}
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "<stdin>") {
				t.Errorf("err = %v, want bad input naming <stdin> and saying %q", err, tt.want)
			}
		})
	}
}

func TestCheckDuplicates(t *testing.T) {
	for _, tt := range []struct {
		in  string
		dup bool
	}{
		{`{"apiVersion":"v1","kind":"Node","metadata":{"name":"a"},"spec":{},"status":{}}`, false},
		// Names repeated below the top level, or inside strings, are not members.
		{`{"kind":"Node","spec":{"kind":"x","kind":"y"},"metadata":{"labels":{"kind":"a"}}}`, false},
		{`{"a":"x\"kind\":","kind":"Node"}`, false},
		{`{"a":"x\\","kind":"Node","b":["kind","kind"]}`, false},
		{`{"kind" : "Node" , "kind" : "Pod"}`, true},
		{"{\n  \"kind\": \"Node\",\n  \"KInd\": \"Pod\"\n}", true},
		{`{"metadata":{"labels":{"a":"b"},"name":"a","NAME":"b"}}`, true},
		{`{"s":"\u017f","ſ":1,"s":2}`, true},
		{`{"metadata":{"labels":{"x":"y"},"annotations":{"n":"m"},"name":"a","nAme":"b"},"spec":{}}`, true},
		{`{"metadata":null,"name":"a","spec":{"name":"b","name":"c"}}`, false},
		{`{"metadata":"x","spec":{"name":"b","name":"c"}}`, false},
		{`{"metadata":[{"name":"b","name":"c"}]}`, false},
		{`{"a":{"metadata":{"name":"a","name":"b"}}}`, false},
		// Malformed input is the decoder's to refuse.
		{`{"kind":"Node","kind`, false},
		{`{"kind"`, false},
		{`[{"kind":1,"kind":2}]`, false},
		{``, false},
	} {
		err := checkDuplicates([]byte(tt.in))
		var d *errDuplicate
		if got := errors.As(err, &d); got != tt.dup {
			t.Errorf("checkDuplicates(%s) = %v, want duplicate %v", tt.in, err, tt.dup)
		}
		if !json.Valid([]byte(tt.in)) {
			continue
		}
		// The scanner finds the same, whatever its reads cut the input
		// into (its buffer moves under the names it keeps).
		for name, r := range map[string]io.Reader{
			"whole": strings.NewReader(tt.in), "byte a time": iotest.OneByteReader(strings.NewReader(tt.in)),
		} {
			_, err := newScanner(r).item()
			if got := errors.As(err, &d); got != tt.dup {
				t.Errorf("scanner.item(%s), %s: %v, want duplicate %v", tt.in, name, err, tt.dup)
			}
		}
	}
}
