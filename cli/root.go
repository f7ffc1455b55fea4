// Package cli is upgate's command line: cobra commands whose settings come
// from one typed Config (flags, then UPGATE_* environment, then --config),
// wired to the collector, the policy engine, the report printers and the
// executor. Every failure leaves as one line on stderr and a contract exit
// code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// app is what every command shares: the streams, kubectl's cluster flags
// and the config file path.
type app struct {
	streams    genericiooptions.IOStreams
	kube       *genericclioptions.ConfigFlags
	configFile string
	logLevel   string
	log        *slog.Logger
	// commandLine is how upgate was invoked, for "re-run" hints.
	commandLine string
	seams
}

// seams are what tests replace; the zero value is the real thing.
type seams struct {
	// clientset, when set, is the cluster instead of kubectl's flags.
	clientset func() (kubernetes.Interface, error)
	// isTerminal says whether stdin is a terminal (run's confirmation).
	isTerminal func(io.Reader) bool
}

// NewRootCommand builds the upgate command tree. name is the binary's name:
// upgate, or kubectl-upgate when run as a kubectl plugin.
func NewRootCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	return newRootCommand(name, streams, "", seams{})
}

func newRootCommand(name string, streams genericiooptions.IOStreams, commandLine string, s seams) *cobra.Command {
	a := &app{streams: streams, kube: genericclioptions.NewConfigFlags(true), commandLine: commandLine, seams: s}
	use := name
	if strings.HasPrefix(name, "kubectl-") {
		// kubectl shows plugins as "kubectl upgate".
		use = "kubectl " + strings.TrimPrefix(name, "kubectl-")
	}
	root := &cobra.Command{
		Use:   use,
		Short: "Policy-gated upgrades for Kubernetes clusters",
		Long: `upgate checks a cluster against the Kubernetes version-skew policy, the
upgrade path and a table of upgrade-safety rules (OPA Rego policies), and
runs a staged upgrade only while those policies pass.

Cluster access follows kubectl (--kubeconfig, --context, KUBECONFIG,
in-cluster config). Settings come from flags, then UPGATE_* environment
variables (--ignore-safety-checks is UPGATE_IGNORE_SAFETY_CHECKS), then the
--config YAML file whose keys are the flag names.

Exit codes: 0 passed, 1 blocked, 2 bad input, 3 cluster or runtime failure.
A first Ctrl-C (SIGINT) or SIGTERM stops the command cleanly, exit 3; a
second one exits at once.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLogging()
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", os.Getenv(EnvPrefix+"_CONFIG"), "YAML file of settings; keys are flag names (env UPGATE_CONFIG)")
	pf.StringVar(&a.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	a.kube.AddFlags(pf)
	root.AddCommand(
		a.snapshotCommand(),
		a.checkCommand(),
		a.planCommand(),
		a.runCommand(),
		a.serveCommand(),
		a.verifyCommand(),
		a.versionCommand(),
	)
	return root
}

func (a *app) setupLogging() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
		return usageErrorf("--log-level: %q is not one of debug, info, warn, error", a.logLevel)
	}
	a.log = slog.New(slog.NewTextHandler(a.streams.ErrOut, &slog.HandlerOptions{Level: lvl}))
	// client-go logs through klog straight to stderr (for example when a
	// cancelled request is cut short); keep it to debug runs so a failure
	// stays one line. A logger takes every message: klog's own output, even
	// redirected, still copies errors to stderr.
	if lvl > slog.LevelDebug {
		klog.SetLogger(logr.Discard())
	} else {
		klog.ClearLogger()
	}
	return nil
}

// Main runs the command line and returns the process exit code, printing a
// failure as one line on stderr.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	return mainWith(ctx, args, stdin, stdout, stderr, seams{})
}

func mainWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, s seams) (code int) {
	name := filepath.Base(args[0])
	// A bug must not look like bad input (Go's own panic exit is 2): say
	// so in one line and fail as a runtime failure, closed.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "%s: internal error: %s (please report it)\n", name, strings.Join(strings.Fields(fmt.Sprint(r)), " "))
			code = ExitRuntime
		}
	}()
	root := newRootCommand(name, genericiooptions.IOStreams{In: stdin, Out: stdout, ErrOut: stderr}, shellQuote(args), s)
	root.SetArgs(args[1:])
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitPassed
	}
	code = ExitCode(err)
	if isCobraUsage(err) {
		code = ExitBadInput
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, oneLine(err))
	if code == ExitPassed {
		code = ExitRuntime
	}
	return code
}

// isCobraUsage recognises cobra's own command-line errors (an unknown
// command, a wrong number of arguments), which it returns untyped.
func isCobraUsage(err error) bool {
	var ee *exitError
	if errors.As(err, &ee) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// shellQuote renders argv as a command a shell would run the same way.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if i == 0 {
			a = filepath.Base(a)
		}
		if a == "" || strings.ContainsAny(a, " \t\n'\"$`\\*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
