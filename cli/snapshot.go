package cli

import (
	"bytes"
	"os"

	"github.com/spf13/cobra"

	"github.com/upgate-dev/upgate/atomicfile"
)

func (a *app) snapshotCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot -o FILE",
		Short: "Collect cluster state (never Secret data) into a snapshot file",
		Long: `Collect what the checks read — nodes, pods, namespaces, workloads, PDBs,
volumes, webhooks, EndpointSlices, the server version and the API server's
record of deprecated API requests — into a versioned snapshot file that
check and plan read back with --from. Secrets are never read; environment
variable values, command lines, managedFields, last-applied bodies,
annotations no check reads (only upgate.dev/*, kubernetes.io/config.mirror
and last-applied-configuration's apiVersion stay), flexVolume options and
CSI volume attributes are dropped (the API versions they name are kept).
Pods keep only what the checks read (see inventory.Pod: no env, probes or
volumes but emptyDir, hostPath and claims), and what the pods of one
template share is written once (podTemplates): a snapshot of 150,000 pods
is a fraction of a kubectl dump. The snapshot is upgate.dev/v1alpha2;
v1alpha1 snapshots are still read, and "snapshot --from OLD" rewrites one.
The file is written with mode 0600: only its owner may read it.

--node-stats also records each node's kubelet stats summary (root
filesystem free bytes, or why it could not be read), which check and plan
--from then judge health.node-disk-free by.

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
			// Cluster state is for its owner's eyes: 0600, as kubeconfigs.
			return a.writeOutputPerm(cfg.Output, buf.Bytes(), privateFile)
		},
	}
	f := cmd.Flags()
	f.StringP("output", "o", "-", "snapshot file to write (- for stdout); written whole or not at all")
	f.StringSlice("from", nil, "read manifests or snapshots instead of the live cluster (repeatable; file, directory or -)")
	addMaxInputSizeFlag(f)
	f.Duration("timeout", 0, "limit for each API call (0: no limit beyond the command's)")
	f.Bool("node-stats", false, nodeStatsUsage+"; the snapshot carries them (nodeStats) for --from")
	return cmd
}

// privateFile is the mode of files that hold cluster state: snapshots,
// and reports that embed one.
const privateFile os.FileMode = 0o600

// writeOutput writes data to path atomically (mode 0644), or to stdout for
// "" and "-".
func (a *app) writeOutput(path string, data []byte) error {
	return a.writeOutputPerm(path, data, 0o644)
}

// writeOutputPerm is writeOutput with the file's mode.
func (a *app) writeOutputPerm(path string, data []byte, perm os.FileMode) error {
	if path == "" || path == "-" {
		_, err := a.streams.Out.Write(data)
		return err
	}
	if err := atomicfile.WriteFilePerm(path, data, perm); err != nil {
		return runtimeErrorf("write %s: %s", path, oneLine(err))
	}
	return nil
}
