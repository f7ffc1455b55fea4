package collector

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ErrCollect marks a failure to read cluster state (unreachable, forbidden,
// timeout). The CLI maps it to the contract's exit 3.
var ErrCollect = errors.New("cluster state could not be read")

// Error is a failed read of the cluster, naming what was being read. It
// matches both ErrCollect and the underlying API error with errors.Is/As,
// so apierrors.IsForbidden and friends still work on it.
type Error struct {
	// Op is what was being done, e.g. "list poddisruptionbudgets.policy".
	Op  string
	Err error
	// hint tells the user the way out, when there is an obvious one.
	hint string
}

func (e *Error) Error() string {
	if e.hint == "" {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s: %v (%s)", e.Op, e.Err, e.hint)
}

func (e *Error) Unwrap() []error { return []error{ErrCollect, e.Err} }

// newError wraps err for op; verb is the RBAC verb the operation needs, or
// "" for non-resource requests.
func newError(op string, err error, verb string) error {
	return &Error{Op: op, Err: err, hint: hint(err, verb)}
}

func hint(err error, verb string) string {
	switch {
	case apierrors.IsForbidden(err) && verb != "":
		return "the checker's RBAC needs " + verb + " on it"
	case apierrors.IsForbidden(err):
		return "the checker's RBAC does not allow it"
	case apierrors.IsUnauthorized(err):
		return "the credentials in the kubeconfig were not accepted"
	case errors.Is(err, context.DeadlineExceeded), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return "the API server did not answer in time"
	}
	return ""
}
