//go:build unix

package inventory

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReadRefusesFIFOs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "state.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Opening a FIFO with no writer used to block forever.
	_, err := readWithin(t, context.Background(), []string{fifo}, nil, ReadOptions{})
	wantBadInput(t, err, "named pipe")
	// The same FIFO in a directory, beside a good manifest.
	writeFile(t, filepath.Join(dir, "a.yaml"), "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n")
	_, err = readWithin(t, context.Background(), []string{dir}, nil, ReadOptions{})
	wantBadInput(t, err, "state.yaml")
}
