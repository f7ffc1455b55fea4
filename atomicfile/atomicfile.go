// Package atomicfile writes files whole or not at all: readers see the
// old file or the new one, never a part.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data so that readers see the old file
// or the new one, never a partial write: a CI job that picks up a report (or
// its .sig) mid-write would otherwise verify garbage or, worse, a truncated
// report. The data goes to a temporary file in the same directory (a rename
// is only atomic within one filesystem), is synced, then renamed over path.
// The file is readable by all (0644): reports and signatures are not secret.
func WriteFile(path string, data []byte) error {
	return WriteFilePerm(path, data, 0o644)
}

// WriteFilePerm is WriteFile with the file's permissions, such
// as 0600 for a snapshot of cluster state, which only its owner should read.
func WriteFilePerm(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Sync before rename: otherwise a crash can leave the new name pointing
	// at an empty file on some filesystems.
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Best effort: persist the rename itself. Not every platform can sync a
	// directory, and the data is already safe, so errors are ignored.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
