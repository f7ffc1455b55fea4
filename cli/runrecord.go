package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/signing"
)

// runState is what a run got to, for its record.
type runState struct {
	started time.Time
	plan    *executor.Plan
	res     *executor.Result
	runErr  error
	// ran: the executor ran (its error is runErr).
	ran bool
	// declined: the confirmation was not given.
	declined bool
}

// errNotConfirmed: the user did not answer y. Nothing was changed.
var errNotConfirmed = errors.New("not confirmed: nothing was changed")

// runSigningKey reads --sign-key and proves it signs, before the run.
func (a *app) runSigningKey(cfg *Config) ([]byte, error) {
	if cfg.SignKey == "" {
		return nil, nil
	}
	key, err := os.ReadFile(cfg.SignKey)
	if err != nil {
		return nil, usageErrorf("--sign-key: %s", oneLine(err))
	}
	if _, err := signing.SignBytes(nil, key, []byte(os.Getenv("COSIGN_PASSWORD"))); err != nil {
		return nil, fmt.Errorf("--sign-key %s: %w", cfg.SignKey, err)
	}
	return key, nil
}

// writeRunRecord writes the run record to --output (signed with --sign-key)
// whatever the run's end, and returns the run's error; a record that
// cannot be written is added to it, keeping its exit code.
func (a *app) writeRunRecord(ctx context.Context, cfg *Config, rs *runState, key []byte, runErr error) error {
	in := executor.RecordInput{
		Plan: rs.plan, Result: rs.res, Err: rs.runErr, DryRun: cfg.DryRun,
		StartedAt: rs.started, FinishedAt: time.Now(), UpgateVersion: Version(),
	}
	if a, err := executor.ParseDrainTimeoutAction(cfg.OnDrainTimeout); err == nil {
		in.OnDrainTimeout = string(a)
	}
	switch {
	case runErr != nil && ctx.Err() != nil:
		in.Verdict, in.Reason = executor.RunStopped, oneLine(runErr)
	case rs.declined:
		in.Verdict, in.Reason = executor.RunStopped, oneLine(runErr)
	case !rs.ran && errors.Is(runErr, errBlocked):
		in.Verdict, in.Reason = executor.RunBlocked, oneLine(runErr)
	case !rs.ran && runErr != nil:
		in.Verdict, in.Reason = executor.RunFailed, oneLine(runErr)
	}
	var buf bytes.Buffer
	err := executor.NewRunRecord(in).WriteJSON(&buf)
	var sig string
	if err == nil && key != nil {
		sig, err = signing.SignBytes(buf.Bytes(), key, []byte(os.Getenv("COSIGN_PASSWORD")))
	}
	if err == nil {
		err = a.writeOutput(cfg.Output, buf.Bytes())
	}
	if err == nil && sig != "" {
		err = a.writeOutput(cfg.Output+signing.SigSuffix, []byte(sig))
	}
	switch {
	case err == nil:
		return runErr
	case runErr == nil:
		return runtimeErrorf("the run record was not written: %s", oneLine(err))
	default:
		return &exitError{code: ExitCode(runErr), err: fmt.Errorf("%s (and the run record was not written: %s)", oneLine(runErr), oneLine(err))}
	}
}

// confirm asks on a terminal before the run changes anything; --yes
// answers for it. Without a terminal it refuses rather than hang or guess.
func (a *app) confirm(ctx context.Context, cfg *Config, rs *runState) error {
	if cfg.Yes {
		return nil
	}
	isTerminal := a.seams.isTerminal
	if isTerminal == nil {
		isTerminal = stdinIsTerminal
	}
	if !isTerminal(a.streams.In) {
		return usageErrorf("stdin is not a terminal, so run cannot ask before changing the cluster: pass --yes to run without asking (nothing was changed)")
	}
	fmt.Fprint(a.streams.Out, "Proceed? This changes the cluster as shown above. [y/N] ")
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(a.streams.In).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.streams.Out)
		return runtimeErrorf("interrupted (%v) before the run started: nothing was changed", context.Cause(ctx))
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return nil
		}
		if !strings.HasSuffix(line, "\n") {
			fmt.Fprintln(a.streams.Out)
		}
		rs.declined = true
		return &exitError{code: ExitBlocked, err: fmt.Errorf("%w (answer y, or pass --yes)", errNotConfirmed)}
	}
}

// stdinIsTerminal reports whether r is a terminal (not a pipe, a file or
// /dev/null, which is a character device too).
func stdinIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
