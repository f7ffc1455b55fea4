//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestEndlessOrBlockingInputIsBadInput(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	withZero := filepath.Join(dir, "state")
	if err := os.Mkdir(withZero, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(withZero, "z.yaml")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, mention string
	}{
		{"/dev/zero", "/dev/zero", "/dev/zero"},
		{"FIFO", fifo, "fifo.yaml"},
		{"/dev/zero as z.yaml in a directory", withZero, "z.yaml"},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"check", "plan", "snapshot"} {
			t.Run(tt.name+" "+cmd, func(t *testing.T) {
				args := []string{cmd, "--from", tt.from, "--target", "v1.36"}
				if cmd == "snapshot" {
					args = []string{cmd, "--from", tt.from, "-o", filepath.Join(t.TempDir(), "s.json")}
				}
				code, out, stderr := runWithin(t, time.Minute, "", args...)
				wantBadInputLine(t, code, out, stderr, tt.mention)
			})
		}
	}
}
