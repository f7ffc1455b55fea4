package service

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Trigger says why a check ran: the label of
// upgate_check_triggers_total.
type Trigger string

const (
	// TriggerStart is the check Run makes first.
	TriggerStart Trigger = "start"
	// TriggerInterval is a check on the (jittered) interval.
	TriggerInterval Trigger = "interval"
	// TriggerChange is a check after changes in the cluster
	// (Options.Changes), once they settled (Options.Debounce) or at the
	// latest Options.DebounceMax after the first of them.
	TriggerChange Trigger = "change"
)

var triggers = []Trigger{TriggerStart, TriggerInterval, TriggerChange}

// DefaultDebounceMax is used when Options.DebounceMax is zero.
const DefaultDebounceMax = time.Minute

// jitter is the interval's jitter factor: each wait is up to 10% longer,
// so replicas do not hit the API server together.
const jitter = 0.1

// schedule is when the next check is due: the interval after the last
// check, or, when changes came since the last check started, the quiet
// period after the last of them, at the latest the longest delay after
// the first. It only does arithmetic on the times it is given; Run keeps
// the clock and the timer.
type schedule struct {
	debounce time.Duration // 0: changes schedule nothing
	max      time.Duration // longest delay after the first pending change

	next        time.Time // the interval check
	pending     bool      // changes came that no check has read yet
	first, last time.Time // the first and the last of them
}

// change records a change seen at now.
func (s *schedule) change(now time.Time) {
	if s.debounce <= 0 {
		return
	}
	if !s.pending {
		s.pending, s.first = true, now
	}
	s.last = now
}

// due is when the next check is due and why.
func (s *schedule) due() (time.Time, Trigger) {
	at, why := s.next, TriggerInterval
	if !s.pending {
		return at, why
	}
	quiet := s.last.Add(s.debounce)
	if latest := s.first.Add(s.max); latest.Before(quiet) {
		quiet = latest
	}
	if !quiet.After(at) {
		at, why = quiet, TriggerChange
	}
	return at, why
}

// started records that a check starts: it reads every change seen so far.
func (s *schedule) started() { s.pending = false }

// finished records that a check ended at now; the next interval check is
// wait later.
func (s *schedule) finished(now time.Time, wait time.Duration) { s.next = now.Add(wait) }

// Run checks until ctx ends: at once, then on the jittered interval
// (measured from the end of the last check) and, with Options.Changes and
// Options.Debounce, after changes. One check at a time: a change seen
// while a check runs schedules the next one, counted from when it was
// seen after the check.
func (s *Server) Run(ctx context.Context) {
	clk := s.opts.clock
	sched := schedule{debounce: s.opts.Debounce, max: s.opts.DebounceMax}
	changes := s.opts.Changes
	if s.opts.Debounce <= 0 {
		changes = nil // interval only; the sender never blocks (see Options.Changes)
	}
	why := TriggerStart
	for {
		// The check reads every change notified so far.
		drain(changes)
		sched.started()
		s.metrics.triggers.WithLabelValues(string(why)).Inc()
		s.runOnce(ctx, why)
		if ctx.Err() != nil {
			return
		}
		sched.finished(clk.Now(), wait.Jitter(s.opts.Interval, jitter))
		for {
			at, next := sched.due()
			d := at.Sub(clk.Now())
			if d <= 0 {
				why = next
				break
			}
			timer := clk.NewTimer(d)
			if s.opts.waiting != nil {
				s.opts.waiting(at, next)
			}
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-changes:
				timer.Stop()
				sched.change(clk.Now())
				continue
			case <-timer.C():
				why = next
			}
			break
		}
	}
}

// drain empties the changes channel without blocking.
func drain(changes <-chan struct{}) {
	for {
		select {
		case <-changes:
		default:
			return
		}
	}
}
