package cli

import (
	"context"
	"sync"

	"github.com/upgate-dev/upgate/collector"
	"github.com/upgate-dev/upgate/inventory"
)

// servedState is the live cluster as serve reads it: one watched state
// (every kind listed once, then kept by informers, a.watch), started by
// the first check and kept until serve ends. Each check reads it without
// listing; what cannot be watched (the API server's deprecated-request
// metrics, the stats summaries with --node-stats) is read per check, as
// Watched.Inventory does. It fails closed as collect does: a watch that
// cannot start fails the check (the next one starts it again), and a
// watch that broke fails each check until it follows the cluster again.
type servedState struct {
	a   *app
	cfg *Config
	// life is serve's context: the informers live as long.
	life context.Context
	// changed, when set, is told of each change the watch sees.
	changed func()

	mu      sync.Mutex
	w       *collector.Watched
	state   func(ctx context.Context, node string) (*inventory.Inventory, error)
	pending *watchStart // the start in flight
}

// watchStart is one start of the watched state; done is closed when it
// ended, err set if it failed.
type watchStart struct {
	done chan struct{}
	err  error
}

// inventory is the cluster now, from the watched state; the first call
// starts it and waits for its lists, at most until ctx ends (a check's
// timeout): the start goes on, and the next check waits for it.
func (s *servedState) inventory(ctx context.Context) (*inventory.Inventory, error) {
	state, err := s.watched(ctx)
	if err != nil {
		return nil, err
	}
	return state(ctx, "")
}

func (s *servedState) watched(ctx context.Context) (func(context.Context, string) (*inventory.Inventory, error), error) {
	s.mu.Lock()
	if s.state != nil {
		defer s.mu.Unlock()
		return s.state, nil
	}
	start := s.pending
	if start == nil {
		start = &watchStart{done: make(chan struct{})}
		s.pending = start
		go s.start(start)
	}
	s.mu.Unlock()
	select {
	case <-start.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if start.err != nil {
		return nil, start.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, nil
}

func (s *servedState) start(start *watchStart) {
	w, state, err := s.a.watch(s.life, s.cfg)
	if err == nil && s.changed != nil {
		if err = w.OnChange(s.changed); err != nil {
			w.Stop()
		}
	}
	s.mu.Lock()
	s.pending = nil
	if err == nil {
		s.w, s.state = w, state
	}
	s.mu.Unlock()
	start.err = err
	close(start.done)
}

// stop ends the watch, if one started. serve's context has ended by then:
// a start in flight ends with it.
func (s *servedState) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		s.w.Stop()
	}
}
