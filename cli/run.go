package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/upgate-dev/upgate/alertgate"
	"github.com/upgate-dev/upgate/etcdsnapshot"
	"github.com/upgate-dev/upgate/executor"
	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
	"github.com/upgate-dev/upgate/policies"
	"github.com/upgate-dev/upgate/querygate"
	"github.com/upgate-dev/upgate/rolloutmetrics"
)

func (a *app) runCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run --target VERSION",
		Short: "Run the gated, staged upgrade (etcd backup, etcd, control plane, CCM, workers, add-ons)",
		Long: `Run the staged upgrade to --target while the policies pass, one minor
at a time: a target more than one minor ahead is reached through hops, as
` + "`upgate plan`" + ` shows them (1.35 -> 1.37 is 1.35 -> 1.36.x -> 1.37; an
intermediate hop goes to the newest patch of its minor the release data
knows, else its .0). Each hop runs every stage, in order: etcd backup, etcd
nodes, control-plane nodes, then a wait (--control-plane-timeout) until the
control plane reports the hop's version (the oldest kube-apiserver: the
image tags of the kube-system component=kube-apiserver pods, else the API
server's /version), cloud-controller-manager, workers (--max-unavailable at
a time), add-ons; the next hop starts only after that. Etcd and
control-plane nodes move in every hop; a worker only when staying behind
would leave its kubelet outside the skew policy in the next hop, and always
in the last hop. The driver is always called with the hop's version.

Readiness, before any node is touched (dry run included): the checks of
scope run, among them health.node-disk-free, which wants 1 GB (10^9
bytes, Kismatic's threshold) free on each node's root filesystem. run
reads the free bytes from each node's kubelet stats summary through the
API server's node proxy (GET /api/v1/nodes/NAME/proxy/stats/summary,
needs get on nodes/proxy; 16 nodes at a time, 5s each); where a summary
cannot be read (forbidden, not served, timed out) the node's DiskPressure
condition stands in for it. A line "Readiness (health.node-disk-free ...)"
says which source each node was judged by, and a finding names its source.
--node-stats=false does not ask the node proxy: DiskPressure only.

Per node: gate (policies for that node against the hop's version,
evaluated again just before it is touched), cordon, drain through the
eviction API (PDBs respected), upgrade through the node driver, wait Ready
with the kubelet at the hop's version, uncordon, validate (postflight
checks for that node). A node with several roles goes once per hop, in its
earliest stage. The add-on stage runs after every node of the hop is done,
through the driver.

The cloud-controller-manager stage (the CCM moves before any node at the
new version joins): after the control plane reports the hop's version, the
driver moves the cloud-controller-manager (the kube-system pods labelled
component=cloud-controller-manager) to the hop's version; then no worker
of the hop starts while addon.ccm-behind-target, judged against the hop's
version, still fires (not ignored): the run looks again every 2s for up to
--ccm-timeout, then stops resumably (exit 1) naming the check. Without
such a pod the stage says so and does nothing; when every one is already at
the hop's version (a resumed run) the driver is not called again.

--dry-run prints the steps hop by hop with the version each node goes to;
with --format json it writes the Plan report instead (as ` + "`upgate plan`" + `).

Drivers (--driver):
  kwok     simulate the upgrade on kwok nodes: set the node's kubelet and
           kube-proxy versions (status subresource) and, on control-plane
           nodes, the image tags of its kube-apiserver, controller-manager
           and scheduler mirror pods; in the cloud-controller-manager stage
           the image tag of the CCM container (named
           cloud-controller-manager, else the first) of each kube-system
           Deployment and DaemonSet labelled component=cloud-controller-manager
           (and such mirror pods), waiting for the rollout (up to 5m); then
           the kube-proxy DaemonSet's image (add-on stage). A minor target
           (v1.37) becomes v1.37.0. Tags at or past the target, digests and
           tags that are no version are left as they are, so a second call
           changes nothing.
           It has no etcd data to back up and says so.
  command  run --driver-command through /bin/sh for each node, with
           UPGATE_NODE, UPGATE_TARGET (the hop's version) and UPGATE_STAGE
           set (and once per hop with UPGATE_STAGE=etcd-backup and no node,
           before any node, once with UPGATE_STAGE=cloud-controller-manager
           and no node after the control plane and before any worker (unless
           there is no CCM pod or it is already at the hop's version; it
           must be idempotent), and once with UPGATE_STAGE=addons after
           every node); its output is streamed with the node's name; a
           non-zero exit fails the node (the CCM stage: the run stops
           before any worker, exit 3). It runs in its own process group: when the
           run stops, the lock is lost or --driver-timeout passes, the
           command and every process it started get SIGTERM, then SIGKILL
           10s later; processes it leaves behind when it exits are stopped
           too.
  job      the executor in the cluster, as rancher's system-upgrade-
           controller: for each node a batch/v1 Job in --job-namespace
           (default: the --lock-namespace) pinned to the node
           (spec.nodeName, so neither the scheduler nor upgate's cordon
           keeps it off; tolerations operator Exists, so no taint does),
           running --job-image with --job-command through /bin/sh -c
           (empty: the image's entrypoint), as --job-service-account when
           given, with UPGATE_NODE, UPGATE_TARGET (the hop's version),
           UPGATE_STAGE, UPGATE_HOP_FROM and UPGATE_HOP_TO set. The
           etcd-backup, cloud-controller-manager and add-on stages each run
           one Job that is not pinned (the scheduler places it, no
           tolerations), UPGATE_STAGE set and no UPGATE_NODE; a backup Job
           says where it keeps the backup with a line
           UPGATE_BACKUP_LOCATION=WHERE in /dev/termination-log.
           restartPolicy Never, backoffLimit 0, activeDeadlineSeconds
           from --driver-timeout; labels app.kubernetes.io/managed-by=upgate,
           upgate.dev/node, upgate.dev/stage, upgate.dev/target. No
           ttlSecondsAfterFinished: the Job and its pod are the record of
           what ran, yours to read and delete (kubectl delete jobs -l
           app.kubernetes.io/managed-by=upgate). The name comes from the
           node (or stage) and the target, so a resumed run adopts a Job
           still running, counts a Complete one as done while the node's
           kubelet is at the target (else runs it again; a backup Job is
           always run afresh) and deletes a
           Failed one, waits until it is gone and creates it anew. The
           driver looks at the Job every second until it is Complete, or
           Failed: the node fails, stays cordoned, and upgate.dev/reason
           names the Job, its Failed condition and how the container ended
           (exit code, reason, message). When the run stops, the lock is
           lost or --driver-timeout passes, the Job is deleted (propagation
           Foreground, so its pod is stopped). Needs create, get, list,
           watch and delete on jobs in that namespace and get, list on
           pods (the chart's rbac.executorJobs). The image does the
           upgrade: a node's kubelet is reached through whatever it is
           given (a cloud or provisioning API, SSH); upgate adds no
           privileges, host mounts or host namespaces to the pod.
Without --driver only --dry-run is possible. Each driver call is bounded
by --driver-timeout (0: 30m).

Etcd backup: with --etcd-endpoints, each hop's etcd-backup stage (before
any node of the hop, so before the first etcd or control-plane node) takes
a snapshot through etcd's own client library (the Maintenance API that
etcdctl and etcdutl snapshot save use) from the first endpoint that serves
one, with --etcd-cacert, --etcd-cert and --etcd-key for TLS, into
--etcd-backup-dir as etcd-snapshot-<UTC time>.db (mode 0600; streamed to a
temporary file, checked against etcd's SHA-256 trailer, fsynced, then
given its name; upgate never overwrites or deletes a snapshot: keep or
prune them yourself). Restore one with etcdutl snapshot restore. Then the
driver's own backup runs (the command driver gets the snapshot's path in
UPGATE_ETCD_SNAPSHOT, to copy it elsewhere). If the snapshot or the
driver's backup fails, the run stops there (exit 3) before any node of the
hop is touched, whatever --mode. Without --etcd-endpoints, and with a
driver that takes no backup (kwok), the run goes on and says plainly, in
its output and its record, that no etcd backup was taken. A dry run takes
no snapshot: it says what it would take and whether etcd answers.
On a kubeadm control-plane node:
  --etcd-endpoints https://127.0.0.1:2379
  --etcd-cacert /etc/kubernetes/pki/etcd/ca.crt
  --etcd-cert /etc/kubernetes/pki/apiserver-etcd-client.crt
  --etcd-key /etc/kubernetes/pki/apiserver-etcd-client.key

Progress lives in the cluster: before each side effect the node gets
annotations upgate.dev/target (the version of the hop it is in),
upgate.dev/run-target (the run's --target), upgate.dev/phase (gated,
cordoned, drained, upgrading, upgraded, done or failed),
upgate.dev/cordoned-by=upgate with upgate.dev/reason while upgate has it
cordoned, upgate.dev/updated-at, upgate.dev/holder (the lock identity of
the run that wrote them), and upgate.dev/was-cordoned=true on a node
someone else had cordoned (upgate never uncordons it; cleared at done,
with cordoned-by and reason). Running again resumes: the plan starts from
the oldest kube-apiserver, so finished hops are skipped and the hop in
progress continues, nodes in flight first; a node in flight to a version
none of the hops goes to refuses the run (exit 2). A resumed run trusts
no annotation: a node not yet upgraded goes through the gate, cordon and
drain again before the driver (each is a no-op where it holds); one at
phase=upgraded waits for Ready at the hop's version. A node at phase=done
is skipped only if its kubelet is at the target, else upgraded again.
upgate.dev/cordoned-by=upgate counts only while the node is in flight to
this target with a holder recorded; any other cordon is someone else's and
stays. A node that fails (a driver error or timeout, not Ready in time)
stays cordoned with upgate.dev/phase=failed and the reason; the run stops
with exit 3, and the next run retries it. So does a control plane that
does not reach a hop's version in time.

A drain that PDBs keep from finishing within --drain-timeout is handled as
--on-drain-timeout says (pods are never force-deleted):
  abort       (default) stop the run; the node stays cordoned,
              upgate.dev/phase=failed, with the reason (the PDBs).
  skip        uncordon the worker (upgate.dev/phase=skipped and the reason),
              go on, and try it once more after the other workers of its
              hop.
  quarantine  leave the worker cordoned (upgate.dev/phase=quarantined and
              the reason) and go on.
A worker skipped or quarantined ends the run with exit 3 once every hop
that can run has run (a worker a later hop needs stops the run before
that hop); the next run takes it again. Etcd and control-plane nodes
always abort: the hop cannot finish without them.

Each step (gate, cordon, drain, upgrade, ready, uncordon, validate) is also
an Event on the node, reason Upgate and the step (UpgateCordon, UpgateDrain,
...), Warning when it did not go well, and UpgateFailed, UpgateSkipped,
UpgateQuarantined or UpgateInterrupted say how a node was left: kubectl
describe node shows them. A cluster that refuses Events costs a warning.

SIGINT or SIGTERM: the step in hand finishes (the signal does not cut off
a driver upgrade; --driver-timeout and a lost lock still do) or stops where
the node's annotations already say (a drain, a wait), the node gets a
reason saying so, the run record is written, and upgate exits 3; the next
run resumes. A second signal kills upgate at once.

On a terminal, run shows the steps and asks "Proceed? [y/N]" before
changing anything (no answer y: exit 1, nothing changed). Without a
terminal it does not ask: it refuses (exit 2) unless --yes answers for it,
as CI must. Dry runs never ask.

--output FILE writes the run record (any run: dry or not, finished, failed
or interrupted), apiVersion upgate.dev/v1alpha1, kind Run: the plan it
executed; for each node and hop its stage, every step with its start and
end, the gate's findings, the outcome (done, skipped, failed, quarantined,
not-started) and the reason; the etcd backups taken and where they are
kept (etcdBackups: upgate's own snapshots with their path, sizeBytes,
endpoint, etcdVersion, revision and sha256; a command driver says where
its backup is with a line UPGATE_BACKUP_LOCATION=PATH while
UPGATE_STAGE=etcd-backup; the kwok driver takes none), or etcdBackupNote
saying that none was taken; under stages, each hop's
cloud-controller-manager stage with its start, end, result (ok, skipped,
failed, blocked, interrupted) and what it did; under pauses, each pause
for alerts or query gates (reason alert or query, before, alerts or error,
or queries with name, query, value or error; start, end, result resumed
or stopped); the verdict (passed for a dry run, done, incomplete,
blocked, failed or stopped).
--sign-key signs it as check signs a report: FILE.sig, which upgate verify
and cosign verify-blob accept.

One executor at a time: the Lease upgate-executor in --lock-namespace,
taken with client-go leader election; a second run exits 3 naming the
holder. The run lives only as long as its lease: once it is lost (renewals
failing for 10s, or another holder) the run makes no further change (no
annotation, cordon, drain, driver call, uncordon, add-on stage), stops the
driver call in flight and exits 3. The node in hand keeps its phase and
cordon; upgate.dev/reason says the lock was lost (written only if the node
is still this run's); the next run resumes it.

The alert gate: --alert-url names Prometheus' alerts API
(http(s)://HOST/api/v1/alerts) or Alertmanager's (.../api/v2/alerts; the
full path: it says which of the two answers, and a query such as
Alertmanager's ?filter= is kept). It is read before each stage that
changes something (the etcd backup, the cloud-controller-manager, the
add-ons) and before each node (before its gate and cordon); a node the
driver already upgraded is finished regardless. Blocking: Prometheus
alerts in state firing (pending ones do not), Alertmanager alerts active
or unprocessed (suppressed ones, silenced or inhibited, do not), less
those whose alertname --alert-filter matches. While any blocks, or the
URL cannot be read (unreachable, not 200, not the API's JSON, 10s
timeout: it fails closed), the run pauses: nothing is touched, the output
names the alerts, upgate_rollout_paused{reason="alert"} is 1, a node it
waits before carries upgate.dev/paused (removed when the pause ends) and an
UpgatePaused Event, and it looks again every 2s; when they resolve it
resumes. After --alert-wait (30m) it
stops resumably, exit 1, naming them: the node or stage it waited before
was not touched, and the next run resumes there. The run record lists
each pause (before what, the alerts, start, end, resumed or stopped).

The query gates, as Argo Rollouts' Prometheus analysis and Flagger's
metric checks: each --gate-query NAME=PROMQL is evaluated at
--prometheus-url (Prometheus' base URL; POST URL/api/v1/query, at
Prometheus' now) before each node (with the alert gate, before the
node's gate and cordon: after a query pause the alerts are read again, so
a node is taken only when both pass at once), again after each node's
validation, and once
more when every hop ran, so the last node's (and the add-ons') effect is
judged before the run finishes, even when a run stopped after its last
node is run again. A query
passes when its result is an instant vector whose samples are all
non-zero (at least one), or a non-zero scalar: write a condition, as
'budget=... < 0.01' (a comparison keeps only the samples where it holds)
or '... < bool 0.01' (1 or 0). An empty result ("no data"), a zero or NaN
value, a range vector or a string, and a Prometheus that cannot be read
(unreachable, not 200, not the API's JSON, status error, 10s timeout: it
fails closed) do not pass. Each query is evaluated once at the start,
before the lock is taken (in a dry run too, which evaluates them no
more): the output says how each stands, and one Prometheus refuses as
bad_data (it does not parse) is exit 2, nothing changed. While any does
not pass the run pauses as for alerts: nothing
more is touched, the output says "PAUSED (query): NAME = VALUE" (or
"NAME: why"), upgate_rollout_paused{reason="query"} is 1, the node carries
upgate.dev/paused "query: NAME = VALUE" and an UpgatePaused Event (before
a node, the node about to be touched; after a node's validation, that
node, which is done: the pause reads "after <stage> <node>"), and it
looks again every 2s; "RESUMED: every query passes" when they do. After
--gate-query-wait (30m) it stops resumably, exit 1, naming the queries
and their values; the next run resumes there. The run record lists each
pause (reason query, the queries with their value or error).

--metrics-bind-address HOST:PORT serves Prometheus metrics at /metrics
while the run runs (no authentication: bind to an address only Prometheus
reaches), from before the lock is taken until the run record is written;
a dry run serves none. An address that cannot be bound is exit 3 (a
malformed one exit 2), nothing changed. The series:
  upgate_rollout_nodes{state}   the plan's nodes by state: pending,
        in-progress, done, skipped, failed, quarantined; read from each
        node's upgate.dev/phase and kubelet (done: at or past --target) at
        the start of the run and of each hop, and after each change, so a
        restarted run counts what earlier runs did
  upgate_rollout_info{hop,stage,target_version}   where the run is (1)
  upgate_rollout_step_duration_seconds{step}   histogram of each node
        step: gate, cordon, drain, upgrade, ready, uncordon, validate
  upgate_rollout_paused{reason}   1 while paused: gate (a node's gate
        blocks and the run looks again within --gate-wait, or the workers
        wait for the cloud-controller-manager check); alert (alerts
        fire, or the --alert-url cannot be read); query (a --gate-query
        does not pass, or Prometheus cannot be read); window stays 0
        until maintenance windows exist
  upgate_rollout_last_progress_timestamp_seconds   the run's start, then
        each node step completed and each stage finished
with the Go runtime's and the process's series. The chart's rules
(charts/upgate/files/upgate.rules.yaml) alert on them.

Exit codes: 0 done, 1 blocked by the gate (before any node, at a node's
gate, a cloud-controller-manager still behind after --ccm-timeout,
alerts still firing after --alert-wait, or a --gate-query still not
passing after --gate-query-wait) or not confirmed, 2 bad input (--yes
missing without a terminal, an etcd certificate that cannot be read, an
--alert-url naming neither API, an --alert-filter that is not a regexp,
a --gate-query that is not NAME=PROMQL, a name given twice, or a query
Prometheus refuses as bad_data at the start, --gate-query and
--prometheus-url one without the other), 3 the etcd backup failed, a
node failed, was skipped or quarantined, the run was interrupted, or the
cluster could not be reached or locked.`,
		Example: `  upgate run --target v1.37 --dry-run
  upgate run --target v1.37 --dry-run --format json
  upgate run --target v1.37 --driver kwok --yes --on-drain-timeout quarantine --output run.json
  upgate run --target v1.37 --driver kwok --yes --metrics-bind-address :9090
  upgate run --target v1.37 --driver kwok --yes --alert-url http://alertmanager:9093/api/v2/alerts \
    --alert-filter '^(Watchdog|InfoInhibitor)$' --alert-wait 1h
  upgate run --target v1.37 --driver kwok --yes --prometheus-url http://prometheus:9090 \
    --gate-query 'budget=sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) < 0.01' --gate-query-wait 1h
  upgate run --target v1.37 --driver command --driver-command ./upgrade-node.sh --yes \
    --etcd-endpoints https://127.0.0.1:2379 --etcd-cacert /etc/kubernetes/pki/etcd/ca.crt \
    --etcd-cert /etc/kubernetes/pki/apiserver-etcd-client.crt --etcd-key /etc/kubernetes/pki/apiserver-etcd-client.key \
    --etcd-backup-dir /var/backups/etcd --output run.json
  upgate run --target v1.37.2 --driver command --driver-command './upgrade-node.sh "$UPGATE_NODE" "$UPGATE_TARGET"'
  upgate run --target v1.37 --driver job --job-image registry.example.com/node-upgrader:1 \
    --job-command 'upgrade-node "$UPGATE_NODE" "$UPGATE_TARGET"' --job-namespace upgate-system --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, a.configFile)
			if err != nil {
				return err
			}
			if err := validateRun(cfg); err != nil {
				return err
			}
			return a.run(cmd.Context(), cfg)
		},
	}
	addCheckFlags(cmd.Flags())
	f := cmd.Flags()
	f.Bool("dry-run", false, "gate and print the steps without changing the cluster")
	f.String("mode", "online", "online (drain and keep workloads up) or offline (skips safety checks)")
	f.Bool("partial-ok", false, "skip flagged workers and upgrade the rest; refused if an etcd or control-plane node is flagged")
	f.String("driver", "", "node upgrade driver: kwok (simulate on kwok nodes), command (--driver-command) or job (a Job per node, --job-image)")
	f.String("driver-command", "", "command driver: shell command run per node with UPGATE_NODE, UPGATE_TARGET, UPGATE_STAGE")
	f.String("job-image", "", "job driver (required with it): the image each node's Job (and each stage's) runs")
	f.String("job-command", "", "job driver: shell command the Job's container runs with /bin/sh -c (the image must have /bin/sh); empty: the image's entrypoint")
	f.String("job-namespace", "", "job driver: namespace of the Jobs (empty: the --lock-namespace, kube-system)")
	f.String("job-service-account", "", "job driver: ServiceAccount of the Jobs' pods (empty: the namespace's default)")
	f.Duration("drain-timeout", 0, "limit for one node's drain, PDB retries included; the node fails and stays cordoned after it (0: 5m)")
	f.Duration("ready-timeout", 0, "limit for a node to be Ready with its kubelet at the target after the driver (0: 5m)")
	f.Duration("control-plane-timeout", 0, "limit, in each hop, for the control plane to report the hop's version after its control-plane stage (0: 5m)")
	f.Duration("ccm-timeout", 0, "limit, in each hop, for the cloud-controller-manager to reach the hop's version after its stage (addon.ccm-behind-target no longer firing); no worker starts before, and the run stops resumably (exit 1) after it (0: 5m)")
	f.Duration("driver-timeout", 0, "limit for each driver call (a node's upgrade, the etcd backup, the add-on stage); the command driver's processes are stopped, the job driver's Job deleted (it is also its activeDeadlineSeconds), and the node fails after it (0: 30m)")
	f.Duration("gate-wait", 30*time.Second, "how long a node's gate may take to clear (PDB status catching up) before the node counts as blocked")
	f.String("lock-namespace", executor.DefaultLockNamespace, "namespace of the executor lock, the Lease "+executor.DefaultLockName)
	f.Duration("lock-lease-duration", executor.DefaultLockLeaseDuration, "how long the executor Lease stays held after its last renewal: the run stops when it cannot renew it for three quarters of this, and a crashed run's Lease blocks the next for up to this")
	f.Duration("api-retry-timeout", time.Minute, "how long each API call keeps retrying, with backoff, while the API server is away (connection refused, 503), as when the control-plane stage restarts it; 0: no retries")
	f.String("on-drain-timeout", string(executor.DrainTimeoutAbort), "a worker whose drain times out: abort (stop, node cordoned), skip (uncordon, go on, retry once after the others) or quarantine (stay cordoned, go on)")
	f.BoolP("yes", "y", false, "do not ask before changing the cluster (needed without a terminal, as in CI)")
	f.Bool("node-stats", true, "read each node's kubelet stats summary through the node proxy (get on nodes/proxy) for the readiness check health.node-disk-free; false: judge by DiskPressure only")
	f.StringSlice("etcd-endpoints", nil, "etcd client URLs (comma list, e.g. https://127.0.0.1:2379): upgate takes its own etcd snapshot from the first that serves one, in each hop's etcd-backup stage, before the driver's backup; a failed snapshot stops the run before any node")
	f.String("etcd-cacert", "", "CA bundle that verifies etcd's serving certificate (kubeadm: /etc/kubernetes/pki/etcd/ca.crt)")
	f.String("etcd-cert", "", "client certificate for etcd (kubeadm: /etc/kubernetes/pki/apiserver-etcd-client.crt); needs --etcd-key")
	f.String("etcd-key", "", "key of --etcd-cert (kubeadm: /etc/kubernetes/pki/apiserver-etcd-client.key)")
	f.String("etcd-backup-dir", "etcd-backups", "directory for the etcd snapshots (etcd-snapshot-<UTC time>.db, mode 0600); created if missing; upgate never deletes or overwrites a snapshot")
	f.String("metrics-bind-address", "", "HOST:PORT to serve the rollout metrics on (/metrics, no authentication) while the run runs, until its record is written; empty: none (a dry run serves none)")
	f.String("alert-url", "", "alert gate: Prometheus' http(s)://HOST/api/v1/alerts or Alertmanager's http(s)://HOST/api/v2/alerts (the full API path); looked at before each stage and each node: while an alert fires, or the URL cannot be read, the run pauses; empty: no alert gate")
	f.String("alert-filter", "", "alert gate: a Go regexp; alerts whose name (alertname) it matches do not block, as kured's --alert-filter-regexp (e.g. '^(Watchdog|InfoInhibitor)$')")
	f.Duration("alert-wait", defaultAlertWait, "alert gate: how long the run stays paused while alerts fire (or the alert source cannot be read) before it stops resumably with exit 1 naming them; 0: stop at once")
	f.StringArray("gate-query", nil, "query gate NAME=PROMQL (repeatable; split at the first '='; NAME is letters, digits, '_', '.', '-', each once): evaluated at --prometheus-url before each node and after each node's validation; it passes when the result is non-empty and every value non-zero (write a condition, e.g. 'budget=sum(rate(http_requests_total{code=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m])) < 0.01'); while one does not, the run pauses")
	f.String("prometheus-url", "", "query gate: Prometheus' base URL (e.g. http://prometheus:9090); the queries are POSTed to URL/api/v1/query")
	f.Duration("gate-query-wait", defaultAlertWait, "query gate: how long the run stays paused while a --gate-query does not pass (or Prometheus cannot be read) before it stops resumably with exit 1 naming them; 0: stop at once")
	return cmd
}

// validateRun checks the settings only `run` reads.
func validateRun(cfg *Config) error {
	if cfg.DryRun && cfg.Format != "text" && cfg.Format != "json" {
		return usageErrorf("--format: run --dry-run prints text or json (the Plan report), not %q", cfg.Format)
	}
	switch cfg.Driver {
	case "", "kwok":
		if cfg.DriverCommand != "" {
			return usageErrorf("--driver-command needs --driver command")
		}
	case "command":
		if strings.TrimSpace(cfg.DriverCommand) == "" {
			return usageErrorf("--driver command needs --driver-command 'CMD'")
		}
	case "job":
		if cfg.DriverCommand != "" {
			return usageErrorf("--driver-command goes with --driver command; the job driver runs --job-command in --job-image")
		}
		if strings.TrimSpace(cfg.JobImage) == "" {
			return usageErrorf("--driver job needs --job-image IMAGE (the image each node's Job runs)")
		}
		if ns := cfg.JobNamespace; ns != "" {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				return usageErrorf("--job-namespace: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
			}
		}
		if sa := cfg.JobServiceAccount; sa != "" {
			if errs := validation.IsDNS1123Subdomain(sa); len(errs) > 0 {
				return usageErrorf("--job-service-account: %q is not a ServiceAccount name: %s", sa, strings.Join(errs, "; "))
			}
		}
	default:
		return usageErrorf("--driver: %q is not kwok, command or job", cfg.Driver)
	}
	if cfg.Driver != "job" {
		for _, f := range []struct{ flag, v string }{{"job-image", cfg.JobImage}, {"job-command", cfg.JobCommand}, {"job-namespace", cfg.JobNamespace}, {"job-service-account", cfg.JobServiceAccount}} {
			if f.v != "" {
				return usageErrorf("--%s needs --driver job", f.flag)
			}
		}
	}
	if cfg.LockNamespace == "" {
		return usageErrorf("--lock-namespace must not be empty")
	}
	if cfg.LockLeaseDuration < 3*time.Second {
		return usageErrorf("--lock-lease-duration: %s is too short to renew (at least 3s)", cfg.LockLeaseDuration)
	}
	if cfg.APIRetryTimeout < 0 {
		return usageErrorf("--api-retry-timeout must not be negative")
	}
	if _, err := executor.ParseDrainTimeoutAction(cfg.OnDrainTimeout); err != nil {
		return usageErrorf("--on-drain-timeout: %s", oneLine(err))
	}
	if cfg.SignKey != "" && (cfg.Output == "" || cfg.Output == "-") {
		return usageErrorf("--sign-key needs --output FILE: the run record is signed into FILE.sig")
	}
	if len(cfg.EtcdEndpoints) == 0 {
		for _, f := range []struct{ flag, v string }{{"etcd-cacert", cfg.EtcdCACert}, {"etcd-cert", cfg.EtcdCert}, {"etcd-key", cfg.EtcdKey}} {
			if f.v != "" {
				return usageErrorf("--%s needs --etcd-endpoints (the etcd client URLs to snapshot)", f.flag)
			}
		}
	}
	if (cfg.EtcdCert == "") != (cfg.EtcdKey == "") {
		return usageErrorf("--etcd-cert and --etcd-key go together: give both or neither")
	}
	if _, err := alertSource(cfg); err != nil {
		return err
	}
	if _, err := queryGate(cfg); err != nil {
		return err
	}
	if a := cfg.MetricsBindAddress; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return usageErrorf("--metrics-bind-address: %q is not HOST:PORT (as :8080 or 127.0.0.1:9090)", a)
		}
	}
	return nil
}

// defaultAlertWait is how long a run stays paused for firing alerts: long
// enough for an incident's alert to resolve on its own or be silenced
// (a flapping alert, a node reboot), short enough that a run left
// unattended does not hold the lock, and a node's window, for hours.
const defaultAlertWait = 30 * time.Minute

// alertSource is the alert gate's source --alert-url asks for, nil
// without it. A URL that names neither API, or a filter that does not
// compile, is bad input (exit 2), found before anything changes.
func alertSource(cfg *Config) (*alertgate.Source, error) {
	if cfg.AlertURL == "" {
		if cfg.AlertFilter != "" {
			return nil, usageErrorf("--alert-filter needs --alert-url (the Prometheus or Alertmanager alerts API to read)")
		}
		return nil, nil
	}
	if _, err := regexp.Compile(cfg.AlertFilter); err != nil {
		return nil, usageErrorf("--alert-filter: %q is not a regexp: %s", cfg.AlertFilter, oneLine(err))
	}
	src, err := alertgate.New(cfg.AlertURL, cfg.AlertFilter)
	if err != nil {
		return nil, usageErrorf("--alert-url: %s", oneLine(err))
	}
	return src, nil
}

// queryGate is the query gates --gate-query and --prometheus-url ask
// for, nil without them. A malformed NAME=PROMQL, a name given twice, a
// bad URL, or one flag without the other, is bad input (exit 2), found
// before anything changes.
func queryGate(cfg *Config) (*querygate.Gate, error) {
	if len(cfg.GateQueries) == 0 {
		if cfg.PrometheusURL != "" {
			return nil, usageErrorf("--prometheus-url needs --gate-query NAME=PROMQL (the queries to evaluate there)")
		}
		return nil, nil
	}
	if cfg.PrometheusURL == "" {
		return nil, usageErrorf("--gate-query needs --prometheus-url (the Prometheus to evaluate the queries at, e.g. http://prometheus:9090)")
	}
	qs, err := querygate.ParseQueries(cfg.GateQueries)
	if err != nil {
		return nil, usageErrorf("--gate-query: %s", oneLine(err))
	}
	g, err := querygate.New(cfg.PrometheusURL, qs)
	if err != nil {
		return nil, usageErrorf("--prometheus-url: %s", oneLine(err))
	}
	return g, nil
}

// checkQueries evaluates each query gate once, before the run changes
// anything, and says how each stands. A query Prometheus refuses as
// bad_data (it does not parse) is bad input (exit 2); one that does not
// pass now, or a Prometheus that cannot be read, is not: the run pauses
// on it when it comes to a node.
func (a *app) checkQueries(ctx context.Context, cfg *Config, g *querygate.Gate) error {
	if g == nil {
		return nil
	}
	fmt.Fprintf(a.streams.Out, "Query gates: at %s before each node and after each node's validation; paused for up to %s while one does not pass.\n", g.Endpoint(), cfg.GateQueryWait)
	for _, r := range g.EvalAll(ctx) {
		if r.BadQuery {
			return usageErrorf("--gate-query %s: %s: %s; nothing was changed", r.Name, querygate.ErrBadQuery, oneLine(errors.New(r.Error)))
		}
		state := "passes now"
		if !r.Pass {
			state = "does not pass now (the run pauses on it)"
		}
		seen := r.Value
		if r.Error != "" {
			seen = r.Error
		}
		fmt.Fprintf(a.streams.Out, "  %s: %s: %s\n", r.Name, state, oneLine(errors.New(seen)))
	}
	return nil
}

// queryRecords adapts the query gates to the Runner: the queries that
// do not pass now.
func queryRecords(g *querygate.Gate) executor.QueryGateFunc {
	return func(ctx context.Context) []executor.QueryRecord {
		var out []executor.QueryRecord
		for _, r := range g.Failing(ctx) {
			out = append(out, executor.QueryRecord{Name: r.Name, Query: r.Query, Value: r.Value, Error: r.Error})
		}
		return out
	}
}

// etcdSaver is the snapshotter --etcd-endpoints asks for, nil without it.
// Its certificate files are read now: a bad one is bad input (exit 2),
// found before anything changes.
func etcdSaver(cfg *Config) (*etcdsnapshot.Saver, error) {
	if len(cfg.EtcdEndpoints) == 0 {
		return nil, nil
	}
	s, err := etcdsnapshot.New(etcdsnapshot.Config{
		Endpoints: cfg.EtcdEndpoints, CACert: cfg.EtcdCACert, Cert: cfg.EtcdCert, Key: cfg.EtcdKey,
		Dir: cfg.EtcdBackupDir,
	})
	if err != nil {
		return nil, usageErrorf("--etcd-endpoints: %s", oneLine(err))
	}
	return s, nil
}

// dryRunBackup says what the etcd-backup stage would do, for a dry run's
// output (probe: ask the endpoints whether they answer) and its record.
func dryRunBackup(ctx context.Context, cfg *Config, saver *etcdsnapshot.Saver, probe bool) string {
	switch {
	case saver != nil && probe:
		endpoint, version, rev, size, err := saver.Probe(ctx)
		if err != nil {
			return fmt.Sprintf("dry run: would take an etcd snapshot from %s, but it would FAIL and the run would stop before any node: %s", saver, oneLine(err))
		}
		return fmt.Sprintf("dry run: would take an etcd snapshot from %s; no snapshot was taken (%s answers: etcd %s, revision %d, database %d bytes)", saver, endpoint, version, rev, size)
	case saver != nil:
		return fmt.Sprintf("dry run: would take an etcd snapshot from %s; no snapshot was taken", saver)
	case cfg.Driver == "command":
		return "dry run: would call the driver command with UPGATE_STAGE=etcd-backup; upgate takes no snapshot of its own without --etcd-endpoints"
	case cfg.Driver == "job":
		return fmt.Sprintf("dry run: would run a Job in namespace %s with UPGATE_STAGE=etcd-backup (image %s); upgate takes no snapshot of its own without --etcd-endpoints", jobNamespace(cfg), cfg.JobImage)
	default:
		return "dry run: NO etcd backup would be taken: upgate takes its own snapshot only with --etcd-endpoints, and the kwok driver (or no driver) takes none"
	}
}

func (a *app) run(ctx context.Context, cfg *Config) (err error) {
	switch cfg.Mode {
	case "online":
	case "offline":
		// Offline upgrades take the workloads down anyway: the safety
		// table guards online drains only.
		cfg.IgnoreSafetyChecks = true
	default:
		return usageErrorf("--mode: %q is not online or offline", cfg.Mode)
	}
	if len(cfg.From) > 0 && !cfg.DryRun {
		return usageErrorf("--from reads files: it goes with --dry-run only, a run acts on the live cluster")
	}
	saver, err := etcdSaver(cfg)
	if err != nil {
		return err
	}
	// The rollout metrics' server, when there is one, stops after the run
	// record is written (the deferred calls run last to first): what a
	// scrape sees last is the run's end.
	var metricsSrv *rolloutmetrics.Server
	defer func() { _ = metricsSrv.Close() }()
	rs := &runState{started: time.Now()}
	if cfg.Output != "" {
		// A key that cannot sign is found before anything changes: the
		// record of a run that did must never be lost to it.
		key, err := a.runSigningKey(cfg)
		if err != nil {
			return err
		}
		// The caller's context: ctx becomes the lock's below, which ends
		// with the lock's release, before this runs.
		outer := ctx
		defer func() { err = a.writeRunRecord(outer, cfg, rs, key, err) }()
	}
	ev, p, err := a.plan(ctx, cfg)
	if err != nil {
		return err
	}
	rs.plan = p
	label := p.TargetVersion
	if !(cfg.DryRun && cfg.Format == "json") {
		fmt.Fprintln(a.streams.Out, diskReadiness(ev.inv))
	}
	if cfg.DryRun && cfg.Format == "json" {
		rs.res = &executor.Result{BackupNote: dryRunBackup(ctx, cfg, saver, false)}
		// The Plan report goes to stdout; --output is the run record.
		if err := p.WriteJSON(a.streams.Out); err != nil {
			return err
		}
		if p.Blocked {
			return blockedf("findings block the plan to %s; upgate check --target %s gives the way out of each", label, label)
		}
		return nil
	}
	if cfg.PartialOK {
		if err := executor.RefusePartial(p); err != nil {
			return usageError(err)
		}
	}
	var buf bytes.Buffer
	if err := executor.WriteSteps(&buf, p, executor.StepOptions{PartialOK: cfg.PartialOK, MaxUnavailable: cfg.MaxUnavailable}); err != nil {
		return err
	}
	if _, err := a.streams.Out.Write(buf.Bytes()); err != nil {
		return err
	}
	if executor.Gated(p, cfg.PartialOK) {
		return blockedf("the gate is closed: no node was touched; upgate check --target %s gives the way out of each finding", label)
	}
	qgate, err := queryGate(cfg)
	if err != nil {
		return err
	}
	if err := a.checkQueries(ctx, cfg, qgate); err != nil {
		return err
	}
	if cfg.DryRun {
		note := dryRunBackup(ctx, cfg, saver, true)
		rs.res = &executor.Result{BackupNote: note}
		_, err = fmt.Fprintf(a.streams.Out, "[%s] %s\nDry run: nothing was changed.\n", executor.StageEtcdBackup, note)
		return err
	}
	if cfg.Driver == "" {
		return runtimeErrorf("no node upgrade driver is configured: nothing was changed (pass --driver kwok, --driver command --driver-command CMD or --driver job --job-image IMAGE, or use --dry-run to see the steps)")
	}
	target, err := executor.ParseTarget(label)
	if err != nil {
		return usageErrorf("--target: %s", oneLine(err))
	}
	if err := a.confirm(ctx, cfg, rs); err != nil {
		return err
	}
	// Bound before the lock and the first change: an address that cannot
	// be bound stops the run with nothing changed.
	var observer executor.Observer
	if cfg.MetricsBindAddress != "" {
		m, err := rolloutmetrics.New()
		if err != nil {
			return err
		}
		if metricsSrv, err = rolloutmetrics.Listen(cfg.MetricsBindAddress, m.Handler()); err != nil {
			return runtimeErrorf("--metrics-bind-address: %s; nothing was changed (pick a free address, or leave the flag out)", oneLine(err))
		}
		observer = m
		fmt.Fprintf(a.streams.Out, "Serving the rollout metrics on http://%s/metrics while the run runs.\n", metricsSrv.Addr())
	}
	client, lockClient, err := a.runClients(cfg)
	if err != nil {
		return err
	}

	lock := &executor.Lock{Client: lockClient, Namespace: cfg.LockNamespace, LeaseDuration: cfg.LockLeaseDuration}
	if err := lock.Acquire(ctx); err != nil {
		return runtimeErrorf("%s", oneLine(err))
	}
	defer lock.Release()
	// From here on the run lives only as long as the lease: losing it
	// cancels the context, which stops driver commands and API calls in
	// flight, and Hold stops the run before any further change.
	ctx = lock.Context()
	fmt.Fprintf(a.streams.Out, "Holding the executor lock (Lease %s/%s) as %s.\n", lock.Namespace, lock.Name, lock.Identity)

	var driver executor.Driver
	switch cfg.Driver {
	case "kwok":
		driver = &executor.KwokDriver{Client: client, Out: a.streams.Out}
	case "command":
		driver = &executor.CommandDriver{Command: cfg.DriverCommand, Out: a.streams.Out, ErrOut: a.streams.ErrOut}
	case "job":
		driver = &executor.JobDriver{
			Client: client, Out: a.streams.Out,
			Image: cfg.JobImage, Command: cfg.JobCommand,
			Namespace: jobNamespace(cfg), ServiceAccount: cfg.JobServiceAccount,
			Deadline: cfg.DriverTimeout,
		}
	}
	// The readiness read the stats summaries once, before any node; each
	// node's gate does not read them again (health.node-disk-free is of
	// scope run).
	gateCfg := *cfg
	gateCfg.NodeStats = false
	// One watched state for the whole run, started under the lock: each
	// node's gate and validation read the informers' caches instead of
	// listing every kind again.
	watched, state, err := a.watch(ctx, &gateCfg)
	if err != nil {
		return err
	}
	defer watched.Stop()
	g := &liveGate{a: a, cfg: &gateCfg, engine: ev.engine, baseline: ev.inv, state: state, memo: policies.NewMemo()}
	var alertGate executor.AlertGateFunc
	if src, err := alertSource(cfg); err != nil {
		return err
	} else if src != nil {
		alertGate = src.Blocking
		filter := ""
		if cfg.AlertFilter != "" {
			filter = fmt.Sprintf(", not blocking: alerts named %q", cfg.AlertFilter)
		}
		fmt.Fprintf(a.streams.Out, "Alert gate: %s before each stage and node%s; paused for up to %s while alerts fire or it cannot be read.\n", src, filter, cfg.AlertWait)
	}
	var queryGateFunc executor.QueryGateFunc
	if qgate != nil {
		queryGateFunc = queryRecords(qgate)
	}
	runner, err := executor.NewRunner(&executor.Runner{
		Client: client, Out: a.streams.Out, ErrOut: a.streams.ErrOut,
		Driver: driver, Snapshotter: snapshotter(saver), Gate: g.gate, Validate: g.validate, Hold: lock.Held, Holder: lock.Identity,
		CloudControllerGate: g.cloudController, CloudControllerTimeout: cfg.CCMTimeout,
		DrainTimeout: cfg.DrainTimeout, ReadyTimeout: cfg.ReadyTimeout, DriverTimeout: cfg.DriverTimeout,
		ControlPlaneTimeout: cfg.ControlPlaneTimeout, GateWait: cfg.GateWait,
		AlertGate: alertGate, AlertWait: cfg.AlertWait,
		QueryGate: queryGateFunc, QueryWait: cfg.GateQueryWait,
		OnDrainTimeout: executor.DrainTimeoutAction(cfg.OnDrainTimeout),
		MaxUnavailable: cfg.MaxUnavailable, PartialOK: cfg.PartialOK,
		// Ignoring the safety checks (or an offline upgrade) accepts that
		// emptyDir data goes with its pod; unmanaged pods are never deleted.
		DeleteEmptyDirData: cfg.IgnoreSafetyChecks,
		Observer:           observer,
	})
	if err != nil {
		return err
	}
	res, err := runner.Run(ctx, p, target)
	rs.res, rs.runErr, rs.ran = res, err, true
	writeOutcomes(a, res)
	switch {
	case err != nil && ctx.Err() != nil:
		return runtimeErrorf("interrupted (%v): %s; upgate run --target %s resumes", context.Cause(ctx), oneLine(err), label)
	case err == nil:
		_, err = fmt.Fprintf(a.streams.Out, "Upgrade to %s finished. Next: upgate check --phase postflight --baseline BEFORE --target %s\n", label, label)
		return err
	case errors.Is(err, executor.ErrBlocked):
		return &exitError{code: ExitBlocked, err: err}
	case errors.Is(err, executor.ErrTargetConflict):
		return usageError(err)
	case errors.Is(err, executor.ErrBackupFailed):
		return runtimeErrorf("%s; fix the backup (--etcd-endpoints, --etcd-cacert, --etcd-cert, --etcd-key, --etcd-backup-dir, or the driver's), then upgate run --target %s again", oneLine(err), label)
	default:
		return runtimeErrorf("%s", oneLine(err))
	}
}

// diskReadiness says where the readiness check health.node-disk-free took
// each node's root filesystem from: the kubelet stats summary, or, where
// it was not read (and why), the DiskPressure condition. The verdict is
// the policy's; this only names the sources.
func diskReadiness(inv *inventory.Inventory) string {
	const head = "Readiness (health.node-disk-free, 1 GB free on each node's root filesystem):"
	if len(inv.NodeStats) == 0 {
		return head + " kubelet stats summaries not collected; judged by each node's DiskPressure condition."
	}
	stats := map[string]inventory.NodeStat{}
	for _, s := range inv.NodeStats {
		stats[s.Node] = s
	}
	read := 0
	var reasons []string
	byReason := map[string][]string{}
	for _, n := range inv.Nodes {
		s, ok := stats[n.Name]
		switch {
		case ok && s.Read():
			read++
			continue
		case !ok:
			s.Error = "no stats summary was recorded for this node"
		case s.Error == "":
			s.Error = "the stats summary gave no available bytes"
		}
		if byReason[s.Error] == nil {
			reasons = append(reasons, s.Error)
		}
		byReason[s.Error] = append(byReason[s.Error], n.Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s kubelet stats summary on %d of %d nodes", head, read, len(inv.Nodes))
	more := ""
	if len(reasons) > 3 {
		rest := 0
		for _, r := range reasons[3:] {
			rest += len(byReason[r])
		}
		more = fmt.Sprintf("; DiskPressure condition on %d more nodes, for %d other reasons", rest, len(reasons)-3)
		reasons = reasons[:3]
	}
	for _, r := range reasons {
		nodes := byReason[r]
		names := strings.Join(nodes[:min(len(nodes), 5)], ", ")
		if len(nodes) > 5 {
			names += fmt.Sprintf(" and %d more", len(nodes)-5)
		}
		fmt.Fprintf(&b, "; DiskPressure condition on %s (stats summary not read: %s)", names, r)
	}
	b.WriteString(more + ".")
	return b.String()
}

// jobNamespace is where the job driver's Jobs go: --job-namespace, else
// the lock's namespace.
func jobNamespace(cfg *Config) string {
	if cfg.JobNamespace != "" {
		return cfg.JobNamespace
	}
	return cfg.LockNamespace
}

// snapshotter keeps a nil *Saver a nil interface.
func snapshotter(s *etcdsnapshot.Saver) executor.EtcdSnapshotter {
	if s == nil {
		return nil
	}
	return s
}

func writeOutcomes(a *app, res *executor.Result) {
	if res == nil || len(res.Outcomes) == 0 {
		return
	}
	fmt.Fprintln(a.streams.Out, "Summary:")
	for _, o := range res.Outcomes {
		line := fmt.Sprintf("  %-10s %-9s %-14s %s", o.Result, o.Hop, o.Stage, o.Node)
		if o.Result != "done" && o.Reason != "" {
			line += ": " + o.Reason
		}
		fmt.Fprintln(a.streams.Out, line)
	}
}

// liveGate evaluates the policies on the live cluster for one node at a
// time, with the engine compiled once for the run. What gates a node and
// what validates it is what the policies declare (custom.scope), never a
// check's ID.
type liveGate struct {
	a        *app
	cfg      *Config
	engine   *policies.Engine
	baseline *inventory.Inventory
	// state reads the cluster as it is now: run's watched state (or a
	// test's files); nil collects it live.
	// node, when not empty, is the node being gated or validated.
	state func(ctx context.Context, node string) (*inventory.Inventory, error)
	// memo remembers, from one evaluation to the next, what the policies
	// worked out of each pod of the watched state (its objects are shared
	// from one read to the next and never changed); nil for other states.
	memo *policies.Memo
	mu   sync.Mutex
}

func (g *liveGate) evaluate(ctx context.Context, phase finding.Phase, node string) (*policies.Result, error) {
	var inv *inventory.Inventory
	var err error
	if g.state != nil {
		inv, err = g.state(ctx, node)
	} else {
		inv, err = g.a.collect(ctx, g.cfg)
	}
	if err != nil {
		return nil, err
	}
	// Within a hop, the policies judge the hop's version: the control
	// plane the node is upgraded to now, not the run's target.
	want := g.cfg.Target
	if hop, ok := executor.HopOf(ctx); ok {
		want = hop.To
	}
	target, err := kubever.Parse(want)
	if err != nil {
		return nil, usageErrorf("--target: %s", oneLine(err))
	}
	var baseline *inventory.Inventory
	if phase == finding.PhasePostflight {
		baseline = g.baseline
	}
	g.mu.Lock()
	ev, err := judgeNode(ctx, g.cfg, g.engine, inv, target, phase, baseline, node, g.memo)
	g.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return ev.result, nil
}

// gate returns the findings that stop the node just before it is touched:
// blocking, of scope node, about the node or about no node (those stop
// every node). The path checks are of scope run and hop: the current
// version moves while the run goes.
func (g *liveGate) gate(ctx context.Context, node string) ([]finding.Finding, error) {
	res, err := g.evaluate(ctx, finding.PhasePreflight, node)
	if err != nil {
		return nil, err
	}
	return res.NodeGate(node), nil
}

// cloudController returns the findings that keep the hop's workers from
// starting after its cloud-controller-manager stage: addon.ccm-behind-
// target, judged against the hop's version (HopOf), not the run's target.
func (g *liveGate) cloudController(ctx context.Context) ([]finding.Finding, error) {
	res, err := g.evaluate(ctx, finding.PhasePreflight, "")
	if err != nil {
		return nil, err
	}
	return res.CloudControllerBehind(), nil
}

// validate returns the findings that fail the node after its upgrade,
// against the state before the run: blocking, of scope validate, about the
// node. A kube-proxy DaemonSet pod behind the target is not among them: the
// add-on stage upgrades it after every node, and the policy declares that
// mismatch postflight only.
func (g *liveGate) validate(ctx context.Context, node string) ([]finding.Finding, error) {
	res, err := g.evaluate(ctx, finding.PhasePostflight, node)
	if err != nil {
		return nil, err
	}
	return res.NodeValidation(node), nil
}
