package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/policies"
	"github.com/upgate-dev/upgate/rolloutmetrics"
	"github.com/upgate-dev/upgate/service"
	"github.com/upgate-dev/upgate/signing"
)

func (a *app) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "In-cluster service: periodic checks, /metrics, /healthz, /readyz, latest report",
		Long: `Run upgate inside the cluster: evaluate the policies for --target every
--interval and after changes in the cluster, keep the latest report at
/report, and export Prometheus metrics at /metrics, with /healthz and
/readyz for the kubelet's probes.

It lists every kind once, then keeps the state by watching it (as upgate
run does): a check reads the watched state, not the whole cluster again;
only the API server's deprecated-request metrics (and, with --node-stats,
the kubelet stats summaries) are read at each check. Any change in the
watched kinds schedules a check once the cluster was quiet for --debounce,
at the latest --debounce-max after the first change not yet checked; the
--interval checks go on beside (upgate_check_triggers_total{trigger}
counts both). --debounce 0 checks on the interval only. With --from
files, every check reads the files again.

It fails closed in time: a check that has not finished after
--check-timeout fails (upgate_check_up 0), and so does one while the
watch of a kind is broken or forbidden, until the watch is back: stale
caches never pass. When the last check failed, or none succeeded for
--stale-after-intervals intervals plus the check timeout, /readyz and
/report answer 503 with the failure and the time of the last success
(header X-Upgate-Stale: true). /healthz fails only when
no check has returned at all for twice that: a restart helps a stuck
loop, not an unreachable API server.

It listens on 127.0.0.1 unless --listen says otherwise; there is no
authentication, so expose it only to the kubelet and Prometheus (the chart
listens on the pod IP behind a NetworkPolicy).

With --sign-key (a cosign private key file, its password in
COSIGN_PASSWORD), every report is signed. /report carries its digest
(X-Upgate-Report-Digest) and signature (X-Upgate-Signature); the last 16
reports and their signatures stay at /reports/sha256-<hex>.json and .sig.
Fetch the pair without a race by the digest of the bytes received:

  curl -sf -o report.json http://HOST:8080/report
  curl -sf -o report.json.sig \
    http://HOST:8080/reports/sha256-$(sha256sum report.json | cut -d' ' -f1).sig
  upgate verify report.json --key cosign.pub

(/report.sig alone signs whatever /report serves at that moment.)

With --policy-bundle URL (an OPA bundle service), each check first polls
the URL with the ETag of the bundle in use: 304 keeps the policies, a new
bundle is verified (--policy-bundle-key) and used from that check on, and
a bundle refused or unreachable leaves the last good one in use, logged
and counted (upgate_policy_bundle_up 0,
upgate_policy_bundle_polls_total{result="failed"}).

Each check also counts the nodes under upgate's own cordon
(upgate.dev/cordoned-by=upgate, unschedulable): upgate_nodes_cordoned_by_upgate.
A run's own metrics (upgate run --metrics-bind-address) end with the run;
this count stays, so an alert can tell that a run left nodes cordoned
behind it (the chart's UpgateExecutorGone).`,
		Example: `  upgate serve --target v1.36 --interval 5m
  upgate serve --target v1.36 --interval 15m --debounce 30s --debounce-max 5m
  upgate serve --target v1.36 --listen :8080 --check-timeout 2m --stale-after-intervals 4
  upgate serve --target v1.36 --policy-bundle https://bundles.example/upgate.tar.gz --policy-bundle-key public.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, a.configFile)
			if err != nil {
				return err
			}
			return a.serve(cmd.Context(), cfg)
		},
	}
	addCheckFlags(cmd.Flags())
	cmd.Flags().String("listen", "127.0.0.1:8080", "address of the HTTP server (no authentication: :8080 listens on every interface)")
	cmd.Flags().Duration("interval", 0, "time between checks (0 means 5m)")
	cmd.Flags().Duration("debounce", 10*time.Second, "after a change in the watched cluster, check once no other change came for this long (0: check on the --interval only)")
	cmd.Flags().Duration("debounce-max", 0, "check at the latest this long after the first change not yet checked, in a cluster that keeps changing (0 means 1m, or --debounce when longer)")
	cmd.Flags().Duration("check-timeout", service.DefaultCheckTimeout, "limit for one check; one still running then fails (0 means 3m)")
	cmd.Flags().Int("stale-after-intervals", service.DefaultStaleAfterIntervals, "/readyz and /report fail when no check succeeded for this many intervals plus --check-timeout (at least 2; 0 means 3)")
	return cmd
}

func (a *app) serve(ctx context.Context, cfg *Config) error {
	if err := requireTarget(cfg); err != nil {
		return err
	}
	// The policies are compiled once: a bad one is bad input at start, and
	// each interval only reads the cluster and evaluates. A bundle
	// service (--policy-bundle URL) is polled before each check, and a
	// new bundle compiled once, when it comes (bundlePoller).
	popts, src, err := readPolicies(ctx, cfg)
	if err != nil {
		return err
	}
	engine, err := policies.New(ctx, popts)
	if err != nil {
		return err
	}
	var poller *bundlePoller
	if src != nil {
		poller = newBundlePoller(src, popts, engine, a.log)
	}
	// The nodes under upgate's own cordon, counted at each check: they
	// outlive a run and its metrics (the chart's UpgateExecutorGone).
	cordons := rolloutmetrics.NewCordons()
	// The live cluster is watched, not listed at each check; its changes
	// schedule checks (service.Options.Changes), a burst as one.
	var load func(context.Context) (*inventory.Inventory, error)
	changes := make(chan struct{}, 1)
	if len(cfg.From) == 0 {
		live := &servedState{a: a, cfg: cfg, life: ctx, changed: func() {
			select {
			case changes <- struct{}{}:
			default:
			}
		}}
		defer live.stop()
		load = live.inventory
	}
	eval := func(ctx context.Context) (*finding.Report, error) {
		engine := engine
		if poller != nil {
			engine = poller.current(ctx)
		}
		ev, err := a.evaluateFrom(ctx, cfg, finding.PhasePreflight, engine, load)
		if err != nil {
			return nil, err
		}
		cordons.Observe(ev.inv.Nodes)
		return a.report(ev, cfg, finding.PhasePreflight)
	}
	if cfg.StaleAfterIntervals < 0 || cfg.StaleAfterIntervals == 1 {
		return usageErrorf("--stale-after-intervals must be at least 2 (or 0 for the default %d)", service.DefaultStaleAfterIntervals)
	}
	if cfg.DebounceMax > 0 && cfg.Debounce > cfg.DebounceMax {
		return usageErrorf("--debounce %s is longer than --debounce-max %s", cfg.Debounce, cfg.DebounceMax)
	}
	opts := service.Options{Interval: cfg.Interval, CheckTimeout: cfg.CheckTimeout,
		StaleAfterIntervals: cfg.StaleAfterIntervals, Log: a.log,
		Changes: changes, Debounce: cfg.Debounce, DebounceMax: cfg.DebounceMax}
	if poller != nil {
		opts.Collectors = poller.collectors()
	}
	opts.Collectors = append(opts.Collectors, cordons.Collector())
	if cfg.SignKey != "" {
		// In the cluster the key is a mounted Secret file, never read
		// through the API. Try it once now: a wrong password is bad input
		// at start, not a failing check every interval.
		key, err := os.ReadFile(cfg.SignKey)
		if err != nil {
			return usageErrorf("--sign-key: %s", oneLine(err))
		}
		password := []byte(os.Getenv("COSIGN_PASSWORD"))
		if _, err := signing.SignBytes([]byte("upgate"), key, password); err != nil {
			return fmt.Errorf("--sign-key %s: %w", cfg.SignKey, err)
		}
		opts.Sign = func(data []byte) (string, error) { return signing.SignBytes(data, key, password) }
	}
	srv, err := service.New(eval, opts)
	if err != nil {
		return err
	}
	if err := srv.ListenAndServe(ctx, cfg.Listen); err != nil {
		return runtimeErrorf("serve on %s: %s", cfg.Listen, oneLine(err))
	}
	return nil
}
