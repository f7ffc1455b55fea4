package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/upgate-dev/upgate/reports"
	"github.com/upgate-dev/upgate/service"
)

func (a *app) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "In-cluster service: periodic checks, /metrics, /healthz, /readyz, latest report",
		Long: `Run upgate inside the cluster: evaluate the policies for --target every
--interval, keep the latest report at /report, and export Prometheus
metrics at /metrics, with /healthz and /readyz for the kubelet's probes.

With --sign-key (a cosign private key file, its password in
COSIGN_PASSWORD), /report.sig is the signature over /report's exact bytes:
save both and check them with upgate verify or cosign verify-blob.`,
		Example: `  upgate serve --target v1.36 --listen :8080 --interval 5m`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, a.configFile)
			if err != nil {
				return err
			}
			return a.serve(cmd.Context(), cfg)
		},
	}
	addCheckFlags(cmd.Flags())
	cmd.Flags().String("listen", ":8080", "address of the HTTP server")
	cmd.Flags().Duration("interval", 0, "time between checks (0 means 5m)")
	return cmd
}

func (a *app) serve(ctx context.Context, cfg *Config) error {
	if err := requireTarget(cfg); err != nil {
		return err
	}
	eval := func(ctx context.Context) (*reports.Report, error) {
		ev, err := a.evaluate(ctx, cfg, reports.PhasePreflight)
		if err != nil {
			return nil, err
		}
		return a.report(ev, cfg, reports.PhasePreflight)
	}
	opts := service.Options{Interval: cfg.Interval, Log: a.log}
	if cfg.SignKey != "" {
		// In the cluster the key is a mounted Secret file, never read
		// through the API. Try it once now: a wrong password is bad input
		// at start, not a failing check every interval.
		key, err := os.ReadFile(cfg.SignKey)
		if err != nil {
			return usageErrorf("--sign-key: %s", oneLine(err))
		}
		password := []byte(os.Getenv("COSIGN_PASSWORD"))
		if _, err := reports.SignBytes([]byte("upgate"), key, password); err != nil {
			return fmt.Errorf("--sign-key %s: %w", cfg.SignKey, err)
		}
		opts.Sign = func(data []byte) (string, error) { return reports.SignBytes(data, key, password) }
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
