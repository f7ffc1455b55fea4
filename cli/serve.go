package cli

import (
	"context"

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
metrics at /metrics, with /healthz and /readyz for the kubelet's probes.`,
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
	srv, err := service.New(eval, service.Options{Interval: cfg.Interval, Log: a.log})
	if err != nil {
		return err
	}
	if err := srv.ListenAndServe(ctx, cfg.Listen); err != nil {
		return runtimeErrorf("serve on %s: %s", cfg.Listen, oneLine(err))
	}
	return nil
}
