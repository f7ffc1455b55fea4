package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// ErrInterrupted is what the cause of a context NotifyContext cancelled
// is (errors.Is): the command was asked to stop (exit 3, a runtime
// failure, as the contract says of run). The cause is also
// context.Canceled, and says which signal: "SIGINT received".
var ErrInterrupted = errors.New("interrupted")

type interruption struct{ signal string }

func (e *interruption) Error() string { return e.signal + " received" }

func (e *interruption) Is(target error) bool {
	return target == ErrInterrupted || target == context.Canceled
}

// NotifyContext returns a context that the first SIGINT or SIGTERM
// cancels, with ErrInterrupted as its cause: the command in hand stops as
// it was designed to (run finishes or rolls back its step and writes its
// record). A second signal means the user will not wait: it prints one
// line on stderr and calls exit(ExitRuntime) at once, whatever the
// command is doing. stop releases the signals; call it when the command
// has returned.
func NotifyContext(parent context.Context, name string, stderr io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancelCause(parent)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(&interruption{signalName(s)})
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "%s: %s again: exiting at once, without finishing the step in hand\n", name, signalName(s))
			exit(ExitRuntime)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel(nil)
		})
	}
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}
