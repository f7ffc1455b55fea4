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

// Lock defaults: the Lease `upgate-executor` in kube-system, free 60s
// after its holder stopped renewing it. Its holder renews it every twelfth
// of that (5s) and counts it lost three quarters of it (45s) after its
// renewals stopped succeeding. The quarter between "lost" and "free" is
// the margin in which a holder that lost its lease knows it and no other
// executor can hold it yet (see Runner.fail for what upgate still writes
// in it).
//
// Why 60s and not the 15s of kube-controller-manager's election: the
// executor restarts the API server itself in the control-plane stage, and
// a lease that counts as lost after 10s without the API server would stop
// every run whose API server takes longer than that to come back. Nobody
// can take the lease while the API server is away, so riding out its
// absence costs nothing in safety; the price is that a crashed run's
// lease blocks the next run for up to a minute.
const (
	DefaultLockName          = "upgate-executor"
	DefaultLockNamespace     = "kube-system"
	DefaultLockLeaseDuration = 60 * time.Second
)

// timingFor derives the renew deadline and retry period from a lease
// duration, in the proportions above.
func timingFor(lease time.Duration) lockTiming {
	if lease <= 0 {
		lease = DefaultLockLeaseDuration
	}
	return lockTiming{lease: lease, renew: lease * 3 / 4, retry: lease / 12}
}

var (
	// ErrLockHeld is returned when another executor holds the lock.
	ErrLockHeld = errors.New("executor lock held")
	// ErrLockLost is the cause of the run context's cancellation when the
	// lease was lost (renewals failed for the renew deadline, or another
	// holder took it): the run must stop before its next side effect.
	ErrLockLost = errors.New("lost the executor lock")
)

// lockTiming is the leader election's timing; tests shorten it.
type lockTiming struct {
	lease, renew, retry time.Duration
}

// Lock is the one-executor-at-a-time Lease, taken with client-go's leader
// election. Acquire tries for a bounded time (the lease duration and two
// retries: long enough for a crashed holder's lease to lapse), never forever.
//
// Holding the lock is what entitles a run to change the cluster, so a lost
// lease must stop the run at once, not before the next node: Context is
// cancelled the moment the lease is lost, and Held says so to a Runner
// that checks it before each side effect.
type Lock struct {
	Client    kubernetes.Interface
	Namespace string // zero: kube-system
	Name      string // zero: upgate-executor
	Identity  string // zero: hostname and a random suffix
	// LeaseDuration is how long the Lease stays held after its last
	// renewal; zero: DefaultLockLeaseDuration.
	LeaseDuration time.Duration

	timing   lockTiming // zero: defaultLockTiming
	lost     atomic.Bool
	released atomic.Bool
	ctx      context.Context
	stop     context.CancelCauseFunc
	cancel   context.CancelFunc
	done     chan struct{}
	elector  *leaderelection.LeaderElector
}

// Acquire takes the lock or returns an error wrapping ErrLockHeld naming
// the holder. Release it with Release. Run the work under Context: it is
// cancelled when the lease is lost.
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
	if l.timing == (lockTiming{}) {
		l.timing = timingFor(l.LeaseDuration)
	}
	l.lost.Store(false)
	l.released.Store(false)
	// A lease another holder renewed within its duration is held: say so
	// at once rather than wait for it.
	lease, err := l.Client.CoordinationV1().Leases(l.Namespace).Get(ctx, l.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("read the executor lock (Lease %s/%s): %w", l.Namespace, l.Name, err)
	default:
		if h := lease.Spec.HolderIdentity; h != nil && *h != "" && *h != l.Identity && lease.Spec.RenewTime != nil {
			dur := l.timing.lease
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
	// The run's context: the caller's, also cancelled when the lease is
	// lost. The flag is set before the cancellation, so whoever sees the
	// context done also sees Held fail.
	runCtx, stop := context.WithCancelCause(ctx)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            rl,
		LeaseDuration:   l.timing.lease,
		RenewDeadline:   l.timing.renew,
		RetryPeriod:     l.timing.retry,
		ReleaseOnCancel: true,
		Name:            l.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(started) },
			OnStoppedLeading: func() {
				// Called when the election ends for any reason; only an
				// end Release did not ask for is a loss.
				if !l.released.Load() {
					l.lost.Store(true)
					stop(l.Held())
					return
				}
				stop(fmt.Errorf("released the executor lock (Lease %s/%s)", l.Namespace, l.Name))
			},
		},
	})
	if err != nil {
		stop(err)
		return err
	}
	// The election outlives ctx's cancellation only through Release: a
	// cancelled run must still give the lease back.
	ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.ctx, l.stop = runCtx, stop
	l.cancel, l.done, l.elector = cancel, make(chan struct{}), le
	go func() {
		defer close(l.done)
		le.Run(ectx)
	}()
	timer := time.NewTimer(l.timing.lease + 2*l.timing.retry)
	defer timer.Stop()
	select {
	case <-started:
		go l.watchHolder(runCtx)
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

// watchHolder stops the run as soon as the Lease names another holder.
// client-go's election keeps trying to renew for the whole renew deadline
// (45s by default) even once it has read that someone else holds the
// lease; an executor must not act that long beside another, so the run
// is stopped at the first renewal attempt that sees the other holder
// (within a retry period). While the API server is away nothing is read,
// the recorded holder stays ours, and the run rides the absence out.
func (l *Lock) watchHolder(ctx context.Context) {
	t := time.NewTicker(max(l.timing.retry/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.done:
			return
		case <-t.C:
			if !l.elector.IsLeader() && !l.released.Load() {
				l.lost.Store(true)
				l.stop(l.Held())
				return
			}
		}
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
		ErrLockHeld, l.Namespace, l.Name, holder, exp, l.timing.lease)
}

// Context is the context to run the work under: Acquire's, cancelled with
// cause ErrLockLost when the lease is lost (and when it is released).
// Before Acquire succeeded it is already cancelled.
func (l *Lock) Context() context.Context {
	if l.ctx == nil {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errors.New("the executor lock was not acquired"))
		return ctx
	}
	return l.ctx
}

// Held returns an error wrapping ErrLockLost once the lease was lost: the
// run must not make another change to the cluster.
func (l *Lock) Held() error {
	if l.lost.Load() {
		return fmt.Errorf("%w (Lease %s/%s, holder %s): its renewals failed or another executor took it, so another executor may be running",
			ErrLockLost, l.Namespace, l.Name, l.Identity)
	}
	return nil
}

// Release gives the lease back and waits until it is released.
func (l *Lock) Release() {
	if l.cancel == nil {
		return
	}
	l.released.Store(true)
	l.cancel()
	<-l.done
	l.cancel = nil
}
