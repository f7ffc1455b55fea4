//go:build unix

package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

func TestSecondSignalExitsAtOnce(t *testing.T) {
	var stderr bytes.Buffer
	exited := make(chan int, 1)
	ctx, stop := NotifyContext(context.Background(), "upgate", &stderr, func(code int) { exited <- code })
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the first SIGINT did not cancel the context")
	}
	if cause := context.Cause(ctx); !errors.Is(cause, ErrInterrupted) || !errors.Is(cause, context.Canceled) ||
		ExitCode(cause) != ExitRuntime || cause.Error() != "SIGINT received" {
		t.Errorf("cause %v (exit %d), want ErrInterrupted and context.Canceled, exit 3", cause, ExitCode(cause))
	}
	select {
	case code := <-exited:
		t.Fatalf("exited (%d) on the first signal", code)
	default:
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != ExitRuntime {
			t.Errorf("exit %d, want %d", code, ExitRuntime)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second signal did not exit")
	}
	if lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "SIGTERM again") {
		t.Errorf("stderr %q, want one line about the second signal", stderr.String())
	}
}

// TestMainProcess is not a test: TestInterruptEndsAStdinRead runs the
// test binary as upgate with it.
func TestMainProcess(t *testing.T) {
	if os.Getenv("UPGATE_TEST_MAIN") != "1" {
		t.Skip("runs as a child process only")
	}
	args := strings.Split(os.Getenv("UPGATE_TEST_ARGS"), " ")
	ctx, stop := NotifyContext(context.Background(), "upgate", os.Stderr, os.Exit)
	// Tell the parent the signals are caught now (fd 3 is its pipe).
	ready := os.NewFile(3, "ready")
	_, _ = ready.Write([]byte("ready\n"))
	_ = ready.Close()
	code := Main(ctx, append([]string{"upgate"}, args...), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// TestInterruptEndsAStdinRead runs upgate as its own process reading a
// pipe that sends part of a manifest and then nothing, never closing:
// one SIGINT ends it with exit 3 and one line.
func TestInterruptEndsAStdinRead(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainProcess$")
	cmd.Env = append(os.Environ(), "UPGATE_TEST_MAIN=1", "UPGATE_TEST_ARGS=check --from - --target v1.36")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	ready, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer ready.Close()
	cmd.ExtraFiles = []*os.File{readyW}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readyW.Close()
	defer stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Signal once it is listening: a signal before would kill it outright.
	if _, err := ready.Read(make([]byte, 6)); err != nil {
		t.Fatalf("the child never got ready: %v; stderr: %s", err, stderr.String())
	}
	// More than a pipe holds: when the write returns, upgate is reading.
	head := strings.Repeat("# "+strings.Repeat("x", 62)+"\n", 8<<10) + "apiVersion: v1\nkind: Node\n"
	if _, err := io.WriteString(stdin, head); err != nil {
		t.Fatalf("write: %v; stderr: %s", err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != ExitRuntime {
			t.Fatalf("exit %v, want %d; stderr: %s", err, ExitRuntime, stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("SIGINT did not end a read of stdin; stderr: %s", stderr.String())
	}
	if lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "SIGINT received") {
		t.Errorf("stderr %q, want one line saying it was interrupted", stderr.String())
	}
}
