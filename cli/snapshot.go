package cli

import (
	"bytes"

	"github.com/spf13/cobra"

	"github.com/upgate-dev/upgate/reports"
)

func (a *app) snapshotCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot -o FILE",
		Short: "Collect cluster state (never Secret data) into a snapshot file",
		Long: `Collect what the checks read — nodes, pods, namespaces, workloads, PDBs,
volumes, webhooks, EndpointSlices, the server version and the API server's
record of deprecated API requests — into a versioned snapshot file that
check and plan read back with --from. Secrets are never read; environment
variable values, command lines, managedFields and last-applied bodies are
dropped (the API versions they name are kept).

With --from, converts manifests (kubectl get -o yaml|json) into a snapshot.`,
		Example: `  upgate snapshot -o before.json
  upgate check --from before.json --target v1.36`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, a.configFile)
			if err != nil {
				return err
			}
			inv, err := a.loadState(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := inv.WriteSnapshot(&buf); err != nil {
				return err
			}
			return a.writeOutput(cfg.Output, buf.Bytes())
		},
	}
	f := cmd.Flags()
	f.StringP("output", "o", "-", "snapshot file to write (- for stdout); written whole or not at all")
	f.StringSlice("from", nil, "read manifests or snapshots instead of the live cluster (repeatable; file, directory or -)")
	addMaxInputSizeFlag(f)
	f.Duration("timeout", 0, "limit for each API call (0: no limit beyond the command's)")
	return cmd
}

// writeOutput writes data to path atomically, or to stdout for "" and "-".
func (a *app) writeOutput(path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := a.streams.Out.Write(data)
		return err
	}
	if err := reports.WriteFileAtomic(path, data); err != nil {
		return runtimeErrorf("write %s: %s", path, oneLine(err))
	}
	return nil
}
