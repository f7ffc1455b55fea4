package inventory_test

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/synth"
)

// TestReadStreamingAgrees reads the same state through every path the
// streaming reader takes and expects the same inventory: a kubectl List
// (items before kind: kept, then decoded), the same List with its kind
// first (items decoded as they stream), a snapshot, and each fed one byte
// at a time (every refill and buffer move of the scanner).
func TestReadStreamingAgrees(t *testing.T) {
	inv := synth.Cluster(synth.Options{Nodes: 6, PodsPerNode: 10})
	var list bytes.Buffer
	if err := synth.WriteManifests(&list, inv, synth.ManifestOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl := list.String()
	if strings.Index(kubectl, `"items"`) > strings.Index(kubectl, `"kind": "List"`) {
		t.Fatal("synth's List should put items before kind, as kubectl does")
	}
	kindFirst := strings.Replace(kubectl, "{\n    \"apiVersion\": \"v1\",", "{\"kind\":\"List\",\"apiVersion\":\"v1\",", 1)
	// The kind moves: said twice, it would be a duplicate member.
	kindFirst = strings.Replace(kindFirst, "\n    ],\n    \"kind\": \"List\",", "\n    ],", 1)
	var snap bytes.Buffer
	if err := synth.WriteSnapshot(&snap, synth.Cluster(synth.Options{Nodes: 6, PodsPerNode: 10})); err != nil {
		t.Fatal(err)
	}

	read := func(name string, r io.Reader) *inventory.Inventory {
		t.Helper()
		got, err := inventory.Read([]string{"-"}, r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The input digest is of the bytes, which differ by design.
		got.Sources, got.APIUsages, got.CollectedAt, got.ServerVersion, got.InputDigest = nil, nil, inv.CollectedAt, "", ""
		return got
	}
	want := read("kubectl List", strings.NewReader(kubectl))
	if len(want.Pods) != 60 || len(want.Nodes) != 6 {
		t.Fatalf("read %d pods and %d nodes, want 60 and 6", len(want.Pods), len(want.Nodes))
	}
	for name, r := range map[string]io.Reader{
		"kind first":                strings.NewReader(kindFirst),
		"kubectl List, byte a time": iotest.OneByteReader(strings.NewReader(kubectl)),
		"kind first, byte a time":   iotest.OneByteReader(strings.NewReader(kindFirst)),
		"snapshot":                  bytes.NewReader(snap.Bytes()),
		"snapshot, byte a time":     iotest.OneByteReader(bytes.NewReader(snap.Bytes())),
		"snapshot, half-read":       iotest.HalfReader(bytes.NewReader(snap.Bytes())),
	} {
		got := read(name, r)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read a different inventory than the kubectl List", name)
		}
	}
}

func TestReadStreamingErrors(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"truncated item", `{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"a"}`, "unexpected EOF"},
		{"missing comma", `{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"a"}} {}]}`, "want ','"},
		{"bad item", `{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"a"}},{"apiVersion":"v1","kind":"Node","metadata":{"name":1}}]}`, "list item 1"},
		{"item not an object", `{"kind":"List","apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"a"}},3]}`, "list item 1 is not an object"},
		{"items not a list", `{"kind":"List","apiVersion":"v1","items":{}}`, "items is not a list"},
		{"top-level array", `[{"apiVersion":"v1","kind":"Node","metadata":{"name":"a"}}]`, "not an object"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inventory.Read([]string{"-"}, strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}
