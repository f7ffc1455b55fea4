//go:build unix

package executor

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// processGroup is a driver command's process group: the shell and every
// process it starts (unless one leaves the group on purpose, setsid).
type processGroup struct {
	cmd *exec.Cmd

	mu         sync.Mutex
	terminated time.Time // when SIGTERM went to the group; zero: not yet
}

// ownProcessGroup starts cmd in a new process group, and makes the
// cancellation of cmd's context send SIGTERM to the whole group instead of
// SIGKILL to the shell alone (which would orphan its children).
func ownProcessGroup(cmd *exec.Cmd) *processGroup {
	g := &processGroup{cmd: cmd}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		g.terminate()
		return nil
	}
	return g
}

func (g *processGroup) pgid() int {
	if g.cmd.Process == nil {
		return 0 // never started
	}
	return g.cmd.Process.Pid // Setpgid: the group is named after its leader
}

func (g *processGroup) terminate() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if pgid := g.pgid(); pgid > 0 && g.terminated.IsZero() {
		g.terminated = time.Now()
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
	}
}

// end stops what is left of the group once the shell has been waited for:
// SIGTERM (unless sent already), then SIGKILL when the grace since the
// SIGTERM is over. It reports whether anything was left when it started
// and it had not been told to stop. The group's ID cannot be reused while
// any member lives, so signalling it cannot hit an unrelated process.
func (g *processGroup) end(grace time.Duration) bool {
	pgid := g.pgid()
	if pgid <= 0 || !groupAlive(pgid) {
		return false
	}
	g.mu.Lock()
	leftBehind := g.terminated.IsZero()
	g.mu.Unlock()
	g.terminate()
	g.mu.Lock()
	deadline := g.terminated.Add(grace)
	g.mu.Unlock()
	for time.Now().Before(deadline) {
		if !groupAlive(pgid) {
			return leftBehind
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return leftBehind
}

// groupAlive reports whether a process of the group still runs. kill(2)
// with signal 0 also counts zombies (exited, waiting for init to reap
// them), which would make every stop wait out the grace where init is
// slow to reap; where /proc tells, only live members count.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	want := []byte(strconv.Itoa(pgid))
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) >= 3 && bytes.Equal(f[2], want) && !bytes.Equal(f[0], []byte("Z")) && !bytes.Equal(f[0], []byte("X")) {
			return true
		}
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return true // no /proc to tell: trust kill(2)
	}
	return false
}
