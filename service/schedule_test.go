package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/upgate-dev/upgate/finding"
)

// checkAt is one check of a simulated schedule: when it started (seconds
// after the first) and why.
type checkAt struct {
	at  int
	why Trigger
}

func (c checkAt) String() string { return fmt.Sprintf("%s@%ds", c.why, c.at) }

// simulate runs schedule as Run drives it, on seconds: a first check at
// 0, changes seen at the given seconds, checks taking no time, the
// interval without jitter; it returns the checks started up to until.
func simulate(debounce, max, interval int, changes []int, until int) []checkAt {
	sec := func(n int) time.Time { return time.Unix(int64(n), 0) }
	s := schedule{debounce: time.Duration(debounce) * time.Second, max: time.Duration(max) * time.Second}
	checks := []checkAt{{0, TriggerStart}}
	s.started()
	s.finished(sec(0), time.Duration(interval)*time.Second)
	for {
		at, why := s.due()
		// Changes seen before the check is due are recorded first.
		if len(changes) > 0 && sec(changes[0]).Before(at) {
			s.change(sec(changes[0]))
			changes = changes[1:]
			continue
		}
		if at.After(sec(until)) {
			return checks
		}
		checks = append(checks, checkAt{int(at.Unix()), why})
		s.started()
		s.finished(at, time.Duration(interval)*time.Second)
	}
}

// every is the seconds from first to last, step apart.
func every(first, last, step int) []int {
	var s []int
	for t := first; t <= last; t += step {
		s = append(s, t)
	}
	return s
}

func TestScheduleDebouncesChanges(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		debounce, max, interval, end int
		changes                      []int
		want                         []checkAt
	}{
		{name: "no change: the interval only", debounce: 10, max: 60, interval: 300, end: 700,
			want: []checkAt{{0, TriggerStart}, {300, TriggerInterval}, {600, TriggerInterval}}},
		{name: "a change is checked after the debounce, not before; the interval counts from that check",
			debounce: 10, max: 60, interval: 300, end: 500, changes: []int{100},
			want: []checkAt{{0, TriggerStart}, {110, TriggerChange}, {410, TriggerInterval}}},
		{name: "a burst is one check, after the quiet period that follows its last change",
			debounce: 10, max: 60, interval: 300, end: 400, changes: []int{100, 101, 103, 104, 109, 115},
			want: []checkAt{{0, TriggerStart}, {125, TriggerChange}}},
		{name: "a constant stream is checked at the longest delay after its first unchecked change",
			debounce: 10, max: 60, interval: 300, end: 500, changes: every(100, 250, 5),
			// 100..155 → at 100+60; 160..215 → 160+60; 220..250 → 250+10.
			want: []checkAt{{0, TriggerStart}, {160, TriggerChange}, {220, TriggerChange}, {260, TriggerChange}}},
		{name: "an interval check due first reads the change: no second check for it",
			debounce: 10, max: 60, interval: 300, end: 700, changes: []int{295},
			want: []checkAt{{0, TriggerStart}, {300, TriggerInterval}, {600, TriggerInterval}}},
		{name: "changes long apart are checked one by one",
			debounce: 10, max: 60, interval: 300, end: 300, changes: []int{50, 200},
			want: []checkAt{{0, TriggerStart}, {60, TriggerChange}, {210, TriggerChange}}},
		{name: "debounce 0: changes trigger no check",
			debounce: 0, max: 60, interval: 300, end: 700, changes: every(100, 500, 7),
			want: []checkAt{{0, TriggerStart}, {300, TriggerInterval}, {600, TriggerInterval}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := simulate(tc.debounce, tc.max, tc.interval, tc.changes, tc.end)
			if !slices.Equal(got, tc.want) {
				t.Errorf("checks %v, want %v", got, tc.want)
			}
		})
	}
}

// waitFor is one wait of Run: until when, for what.
type waitFor struct {
	at  time.Time
	why Trigger
}

// loop is a Server's Run on a fake clock. Each check blocks until the
// test releases it: checks says one started, release lets it return.
type loop struct {
	t       *testing.T
	s       *Server
	clk     *clocktesting.FakeClock
	changes chan struct{}
	waits   chan waitFor
	checks  chan struct{}
	release chan struct{}
	running atomic.Int32
	overlap atomic.Bool
}

func startLoop(t *testing.T, opts Options) *loop {
	t.Helper()
	l := &loop{t: t, clk: clocktesting.NewFakeClock(time.Unix(1700000000, 0)),
		changes: make(chan struct{}, 1), waits: make(chan waitFor, 1),
		checks: make(chan struct{}), release: make(chan struct{})}
	opts.Changes, opts.clock, opts.now = l.changes, l.clk, l.clk.Now
	opts.waiting = func(at time.Time, why Trigger) { l.waits <- waitFor{at, why} }
	s, err := New(func(ctx context.Context) (*finding.Report, error) {
		if l.running.Add(1) > 1 {
			l.overlap.Store(true)
		}
		defer l.running.Add(-1)
		select {
		case l.checks <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		select {
		case <-l.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return passed(), nil
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	l.s = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		// Let a check in flight return, then wait for Run.
		for {
			select {
			case <-done:
				if l.overlap.Load() {
					t.Error("two checks ran at once")
				}
				return
			case <-l.waits:
			}
		}
	})
	return l
}

// check waits for a check to start, runs during(), then lets it return.
func (l *loop) check(during func()) {
	l.t.Helper()
	<-l.checks
	if during != nil {
		during()
	}
	l.release <- struct{}{}
}

// notify says the cluster changed, as serve's watch does: without blocking.
func (l *loop) notify() {
	select {
	case l.changes <- struct{}{}:
	default:
	}
}

func (l *loop) wait() waitFor { return <-l.waits }

// counts is upgate_check_triggers_total as /metrics says it.
func (l *loop) counts() string {
	metrics := serve(l.t, l.s.Handler(), "/metrics").Body.String()
	var got []string
	for _, why := range triggers {
		n := "?"
		for _, line := range strings.Split(metrics, "\n") {
			if v, ok := strings.CutPrefix(line, `upgate_check_triggers_total{trigger="`+string(why)+`"} `); ok {
				n = v
			}
		}
		got = append(got, string(why)+" "+n)
	}
	return strings.Join(got, ", ")
}

func TestRunChecksOnChangeAndInterval(t *testing.T) {
	const debounce = 10 * time.Second
	l := startLoop(t, Options{Interval: time.Hour, Debounce: debounce})
	l.check(nil) // the first, at once
	w := l.wait()
	if d := w.at.Sub(l.clk.Now()); w.why != TriggerInterval || d < time.Hour || d > time.Hour+time.Hour/10 {
		t.Fatalf("after the first check Run waits %s for %s, want the jittered hour for interval", d, w.why)
	}
	// A change: Run now waits for the debounce, not the interval.
	l.notify()
	if w = l.wait(); w.why != TriggerChange || !w.at.Equal(l.clk.Now().Add(debounce)) {
		t.Fatalf("after a change Run waits until %s for %s, want %s for change", w.at, w.why, l.clk.Now().Add(debounce))
	}
	// Another before the quiet period ended: the wait starts again.
	l.clk.Step(debounce - time.Second)
	l.notify()
	if w = l.wait(); w.why != TriggerChange || !w.at.Equal(l.clk.Now().Add(debounce)) {
		t.Fatalf("after a second change Run waits until %s for %s, want %s", w.at, w.why, l.clk.Now().Add(debounce))
	}
	if got := l.counts(); got != "start 1, interval 0, change 0" {
		t.Fatalf("before the quiet period ended: %s", got)
	}
	l.clk.Step(debounce)
	// One check for both changes; a change during it schedules the next.
	l.check(l.notify)
	if got := l.counts(); got != "start 1, interval 0, change 1" {
		t.Errorf("after the quiet period: %s", got)
	}
	w = l.wait() // the interval, from the end of the check
	if w = l.wait(); w.why != TriggerChange || !w.at.Equal(l.clk.Now().Add(debounce)) {
		t.Fatalf("a change during a check: Run waits until %s for %s, want %s for change", w.at, w.why, l.clk.Now().Add(debounce))
	}
	l.clk.Step(debounce)
	l.check(nil)
	// With no change, the interval.
	w = l.wait()
	if w.why != TriggerInterval {
		t.Fatalf("Run waits for %s, want interval", w.why)
	}
	l.clk.SetTime(w.at)
	l.check(nil)
	if got := l.counts(); got != "start 1, interval 1, change 2" {
		t.Errorf("at the end: %s", got)
	}
}

func TestRunDebounceZeroChecksOnTheIntervalOnly(t *testing.T) {
	l := startLoop(t, Options{Interval: time.Hour})
	l.check(nil)
	w := l.wait()
	l.notify() // never read: it would not block the watch either
	l.notify()
	if w.why != TriggerInterval {
		t.Fatalf("Run waits for %s, want interval", w.why)
	}
	l.clk.SetTime(w.at)
	l.check(nil)
	if got := l.counts(); got != "start 1, interval 1, change 0" {
		t.Errorf("%s, want no change-triggered check", got)
	}
}

func TestDebounceOptions(t *testing.T) {
	eval := func(context.Context) (*finding.Report, error) { return passed(), nil }
	for _, tc := range []struct {
		opts    Options
		wantMax time.Duration
		wantErr bool
	}{
		{Options{Debounce: 10 * time.Second}, DefaultDebounceMax, false},
		{Options{Debounce: 5 * time.Minute}, 5 * time.Minute, false},
		{Options{Debounce: 10 * time.Second, DebounceMax: 5 * time.Second}, 0, true},
		{Options{Debounce: -time.Second}, 0, true},
	} {
		s, err := New(eval, tc.opts)
		if (err != nil) != tc.wantErr {
			t.Errorf("New(%+v): err %v", tc.opts, err)
			continue
		}
		if err == nil && s.opts.DebounceMax != tc.wantMax {
			t.Errorf("New(%+v): DebounceMax %s, want %s", tc.opts, s.opts.DebounceMax, tc.wantMax)
		}
	}
}
