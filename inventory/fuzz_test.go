package inventory

import (
	"bytes"
	"errors"
	"os"
	"testing"
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
