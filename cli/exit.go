package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/upgate-dev/upgate/collector"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/policies"
	"github.com/upgate-dev/upgate/signing"
)

// Exit codes of the contract.
const (
	ExitPassed   = 0
	ExitBlocked  = 1
	ExitBadInput = 2
	ExitRuntime  = 3
)

// exitError carries an exit code chosen where the failure is understood.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error { return &exitError{code: ExitBadInput, err: err} }

func usageErrorf(format string, a ...any) error {
	return usageError(fmt.Errorf(format, a...))
}

func runtimeErrorf(format string, a ...any) error {
	return &exitError{code: ExitRuntime, err: fmt.Errorf(format, a...)}
}

// errBlocked is returned when the gate blocks. The report says why; the
// error still becomes the one stderr line every non-zero exit prints.
var errBlocked = errors.New("blocked")

// blockedf wraps errBlocked with what blocked and the way forward.
func blockedf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errBlocked}, a...)...)
}

// ExitCode maps an error to the contract's exit code. Errors nobody
// classified are runtime failures (3): the gate fails closed, never open.
func ExitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return ExitPassed
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errBlocked), errors.Is(err, signing.ErrBadSignature):
		return ExitBlocked
	case errors.Is(err, inventory.ErrBadInput), errors.Is(err, policies.ErrInvalidPolicy),
		errors.Is(err, signing.ErrBadKey):
		return ExitBadInput
	case errors.Is(err, collector.ErrCollect), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled), errors.Is(err, ErrInterrupted):
		return ExitRuntime
	default:
		return ExitRuntime
	}
}
