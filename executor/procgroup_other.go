//go:build !unix

package executor

import (
	"os/exec"
	"time"
)

// processGroup: without Unix process groups the shell alone is killed when
// the context is done (exec's default); its children may outlive it.
type processGroup struct{}

func ownProcessGroup(*exec.Cmd) *processGroup { return &processGroup{} }

func (*processGroup) end(time.Duration) bool { return false }
