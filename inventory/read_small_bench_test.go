package inventory_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/synth"
)

// BenchmarkReadSmall reads a 50-node snapshot (1,500 pods) from a file
// and from stdin: quick figures for changes to the reader's per-byte work
// (the size bound, the binary-data and duplicate-member checks), next to
// ReadScale's large ones.
func BenchmarkReadSmall(b *testing.B) {
	var snap bytes.Buffer
	if err := synth.WriteSnapshot(&snap, synth.Cluster(synth.Options{Nodes: 50})); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "snap.json")
	if err := os.WriteFile(path, snap.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("file", func(b *testing.B) {
		b.SetBytes(int64(snap.Len()))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := inventory.Read([]string{path}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdin", func(b *testing.B) {
		b.SetBytes(int64(snap.Len()))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := inventory.Read([]string{"-"}, bytes.NewReader(snap.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
}
