package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Lock defaults: the Lease `upgate-executor` in kube-system, renewed every
// 2s, lost 10s after renewals stop succeeding, free 15s after its holder
// stopped renewing.
const (
	DefaultLockName      = "upgate-executor"
	DefaultLockNamespace = "kube-system"
	lockLeaseDuration    = 15 * time.Second
	lockRenewDeadline    = 10 * time.Second
	lockRetryPeriod      = 2 * time.Second
)

// ErrLockHeld is returned when another executor holds the lock.
var ErrLockHeld = errors.New("executor lock held")

// Lock is the one-executor-at-a-time Lease, taken with client-go's leader
// election. Acquire tries for a bounded time (the lease duration and two
// retries: long enough for a crashed holder's lease to lapse), never forever.
type Lock struct {
	Client    kubernetes.Interface
	Namespace string // zero: kube-system
	Name      string // zero: upgate-executor
	Identity  string // zero: hostname and a random suffix

	lost    atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}
	elector *leaderelection.LeaderElector
}

// Acquire takes the lock or returns an error wrapping ErrLockHeld naming
// the holder. Release it with Release; Held reports a lost lease.
func (l *Lock) Acquire(ctx context.Context) error {
	if l.Namespace == "" {
		l.Namespace = DefaultLockNamespace
	}
	if l.Name == "" {
		l.Name = DefaultLockName
	}
	if l.Identity == "" {
		host, _ := os.Hostname()
		l.Identity = fmt.Sprintf("%s_%s", host, rand.String(8))
	}
	// A lease another holder renewed within its duration is held: say so
	// at once rather than wait for it.
	lease, err := l.Client.CoordinationV1().Leases(l.Namespace).Get(ctx, l.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("read the executor lock (Lease %s/%s): %w", l.Namespace, l.Name, err)
	default:
		if h := lease.Spec.HolderIdentity; h != nil && *h != "" && *h != l.Identity && lease.Spec.RenewTime != nil {
			dur := lockLeaseDuration
			if lease.Spec.LeaseDurationSeconds != nil {
				dur = time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
			}
			until := lease.Spec.RenewTime.Add(dur)
			if time.Now().Before(until) {
				return l.heldError(*h, until)
			}
		}
	}

	rl := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: l.Namespace, Name: l.Name},
		Client:     l.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: l.Identity},
	}
	started := make(chan struct{})
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            rl,
		LeaseDuration:   lockLeaseDuration,
		RenewDeadline:   lockRenewDeadline,
		RetryPeriod:     lockRetryPeriod,
		ReleaseOnCancel: true,
		Name:            l.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(started) },
			OnStoppedLeading: func() { l.lost.Store(true) },
		},
	})
	if err != nil {
		return err
	}
	// The election outlives ctx's cancellation only through Release: a
	// cancelled run must still give the lease back.
	ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel, l.done, l.elector = cancel, make(chan struct{}), le
	go func() {
		defer close(l.done)
		le.Run(ectx)
	}()
	timer := time.NewTimer(lockLeaseDuration + 2*lockRetryPeriod)
	defer timer.Stop()
	select {
	case <-started:
		return nil
	case <-timer.C:
		holder := le.GetLeader()
		l.Release()
		return l.heldError(holder, time.Time{})
	case <-ctx.Done():
		l.Release()
		return ctx.Err()
	}
}

func (l *Lock) heldError(holder string, until time.Time) error {
	if holder == "" {
		holder = "an unknown holder"
	}
	exp := ""
	if !until.IsZero() {
		exp = fmt.Sprintf(" until %s", until.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("%w: Lease %s/%s is held by %q%s: another upgate run is in progress; wait for it to finish (if it died, its lease lapses %s after its last renewal)",
		ErrLockHeld, l.Namespace, l.Name, holder, exp, lockLeaseDuration)
}

// Held returns an error once the lease was lost: the run must stop before
// the next node.
func (l *Lock) Held() error {
	if l.lost.Load() {
		return fmt.Errorf("lost the executor lock (Lease %s/%s): another executor may be running", l.Namespace, l.Name)
	}
	return nil
}

// Release gives the lease back and waits until it is released.
func (l *Lock) Release() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cancel = nil
}
