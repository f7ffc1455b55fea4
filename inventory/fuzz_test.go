package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"testing/iotest"
)

// FuzzRead feeds arbitrary bytes to the reader: it must return an
// inventory or an ErrBadInput, and never panic.
func FuzzRead(f *testing.F) {
	for _, p := range []string{"testdata/multi.yaml", "testdata/list.json", "testdata/podlist.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"apiVersion":"upgate.dev/v1alpha1","kind":"Snapshot","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]}`))
	f.Add([]byte("---\n- a\n- b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Read([]string{"-"}, bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error not marked bad input: %v", err)
			}
			return
		}
		if inv == nil {
			t.Fatal("nil inventory without error")
		}
	})
}

// FuzzMemberNames holds the two finders of repeated member names to the
// same answer on any valid JSON: the scanner's, in the pass that reads a
// list's items, and checkDuplicates, for objects decoded whole; and the
// scanner's item to where value ends, on any input.
func FuzzMemberNames(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Node","Kind":"Pod","metadata":{"name":"a"}}`))
	f.Add([]byte(`{"metadata":{"labels":{"a":"b"},"name":"a","NAME":"b"},"spec":{"x":[1,"]"]}}`))
	f.Add([]byte(`{"a":"\"kind\":","kin\u0064":1,"kind":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		item, got := newScanner(iotest.OneByteReader(bytes.NewReader(data))).item()
		var d *errDuplicate
		if !errors.As(got, &d) {
			// Otherwise item ends where value does, on any input.
			value, err := newScanner(bytes.NewReader(data)).value()
			if !bytes.Equal(item, value) || (err == nil) != (got == nil) {
				t.Fatalf("%q: item gives %q, %v; value %q, %v", data, item, got, value, err)
			}
		}
		if !json.Valid(data) {
			return
		}
		if want := checkDuplicates(data); (want != nil) != errors.As(got, &d) {
			t.Fatalf("%s: checkDuplicates says %v, the scanner %v", data, want, got)
		}
	})
}
