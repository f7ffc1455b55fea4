#!/usr/bin/env bash
# Live collection at scale: `upgate snapshot` against `kubectl get ... -o json`
# of the same resources, on a local kwok cluster of 1,000 nodes and 11,000
# pods (hack/cluster.sh, cluster name upgate-scale), side by side in one run:
# wall clock and peak memory (/usr/bin/time -v) of each, twice, alternating.
#
#   hack/bench-live.sh            # create, measure, delete the cluster
#   KEEP=1 hack/bench-live.sh     # leave it running (hack/cluster.sh down later,
#                                 # with UPGATE_CLUSTER=upgate-scale)
#
# The cluster's objects come from synth (go run ./hack/gencluster -kwok
# -roots): nodes shaped for kwok with no addresses, namespaces, Deployments,
# StatefulSets with pre-bound PersistentVolumes, DaemonSets, PDBs, headless
# Services, a few bare and mirror pods, webhooks whose rules match nothing
# the cluster serves. The controllers make the ReplicaSets, pods and
# EndpointSlices; the scheduler binds the pods; kwok runs them. On 2 cores,
# creating everything and waiting for 11,000 Running pods takes a few
# minutes, and the API server then holds about 1.6 GB.
#
# Environment: LIVE_NODES (1000), LIVE_PODS_PER_NODE (11), LIVE_WAIT (900
# seconds for the pods), UPGATE_CACHE, K8S_VERSION (v1.36.3), KEEP.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export UPGATE_CLUSTER="${UPGATE_CLUSTER:-upgate-scale}"
CACHE="${UPGATE_CACHE:-$HOME/.cache/upgate}"
K8S_VERSION="${K8S_VERSION:-v1.36.3}"
KUBECTL="${CACHE}/bin/${K8S_VERSION}/kubectl"
NODES="${LIVE_NODES:-1000}"
PER_NODE="${LIVE_PODS_PER_NODE:-11}"
WAIT="${LIVE_WAIT:-900}"
WORK=$(mktemp -d)
RESULTS="${CACHE}/bench/live-$(date -u +%Y%m%dT%H%M%SZ).txt"
mkdir -p "$(dirname "${RESULTS}")"

log() { printf '[bench-live] %s\n' "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
say() { printf '%s\n' "$*" | tee -a "${RESULTS}"; }

cleanup() {
  rm -rf "${WORK}"
  if [[ -z "${KEEP:-}" ]]; then
    hack/cluster.sh down || true
  else
    log "KEEP set: cluster ${UPGATE_CLUSTER} left running; UPGATE_CLUSTER=${UPGATE_CLUSTER} hack/cluster.sh down deletes it"
  fi
}
trap cleanup EXIT

[[ -x /usr/bin/time ]] || { log "needs GNU time: apt-get install time"; exit 1; }

log "building upgate and the manifests (${NODES} nodes, ${PER_NODE} pods per node)"
go build -trimpath -o "${WORK}/upgate" ./cmd/upgate
go run ./hack/gencluster -nodes "${NODES}" -pods-per-node "${PER_NODE}" -kwok -roots \
  -format manifests -o "${WORK}/cluster.json"

log "starting cluster ${UPGATE_CLUSTER}"
KUBECONFIG=$(hack/cluster.sh up | tail -1)
export KUBECONFIG
k() { "${KUBECTL}" --kubeconfig "${KUBECONFIG}" "$@"; }

# Split the List: what others depend on first (namespaces, nodes, volumes),
# then the rest, in chunks applied a few at a time.
python3 - "${WORK}" <<'EOF'
import json, sys, os
work = sys.argv[1]
items = json.load(open(os.path.join(work, "cluster.json")))["items"]
first = {"Namespace", "Node", "PersistentVolume", "PersistentVolumeClaim"}
phases = [[i for i in items if i["kind"] in first], [i for i in items if i["kind"] not in first]]
for p, objs in enumerate(phases, 1):
    os.makedirs(os.path.join(work, f"phase{p}"), exist_ok=True)
    for c in range(0, len(objs), 250):
        with open(os.path.join(work, f"phase{p}", f"chunk-{c // 250:04d}.json"), "w") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": objs[c:c + 250]}, f)
EOF

create() {
  # kubectl create, tolerating what the seeded cluster already has
  # (kube-system, cp-1..3, their mirror pods, the kube-proxy DaemonSet).
  local dir=$1
  find "${dir}" -name 'chunk-*.json' -print0 | sort -z |
    xargs -0 -n 1 -P 4 sh -c '"$0" --kubeconfig "$1" create -f "$2" 2>&1 | grep -v -e "AlreadyExists" -e " created$" || true' \
      "${KUBECTL}" "${KUBECONFIG}"
}
start=$(date +%s)
log "creating namespaces, nodes and volumes"
create "${WORK}/phase1"
log "waiting for the default service accounts and ${NODES} Ready nodes"
for _ in $(seq 60); do
  missing=$(k get ns -o name | wc -l)
  sas=$(k get sa -A --field-selector metadata.name=default -o name | wc -l)
  [[ ${sas} -ge ${missing} ]] && break
  sleep 2
done
k wait --for=condition=Ready node --all --timeout=300s >/dev/null
log "creating workloads, budgets, services, pods and webhooks"
create "${WORK}/phase2"
# synth makes NODES*PER_NODE pods; the roots leave out its few Job pods,
# and the seeded control-plane pods stand in for synth's: wait for 97%.
want=$((NODES * PER_NODE * 97 / 100))
log "waiting for ${want} Running pods (up to ${WAIT} s)"
deadline=$(($(date +%s) + WAIT))
while :; do
  running=$(k get pods -A --field-selector=status.phase=Running --chunk-size=2000 -o name | wc -l)
  log "  ${running} pods Running after $(($(date +%s) - start)) s (load $(load))"
  [[ ${running} -ge ${want} ]] && break
  if [[ $(date +%s) -ge ${deadline} ]]; then
    log "only ${running} of ${want} pods Running after ${WAIT} s; measuring what there is"
    break
  fi
  sleep 20
done

RESOURCES=pods,nodes,namespaces,deployments,replicasets,statefulsets,daemonsets,jobs,replicationcontrollers,poddisruptionbudgets,persistentvolumes,persistentvolumeclaims,services,endpointslices,validatingwebhookconfigurations,mutatingwebhookconfigurations
# measure LABEL OUTPUT OK-EXIT COMMAND...: OK-EXIT is the highest exit code
# that is no failure (check exits 1 when the upgrade is blocked).
measure() {
  local label=$1 out=$2 ok=$3
  shift 3
  local t rc wall rss
  t=$(mktemp)
  set +e
  /usr/bin/time -v "$@" >"${out}" 2>"${t}"
  rc=$?
  set -e
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "${t}")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "${t}")
  if [[ ${rc} -gt ${ok} ]]; then
    log "${label} exited ${rc}:"
    grep -v -e '^\s' -e 'Command being timed' "${t}" | tail -5 >&2
  fi
  say "$(printf '%-30s wall %8s  max RSS %6d MB  output %7.1f MB  exit %d  load %s' \
    "${label}" "${wall}" "$((rss / 1024))" "$(awk -v b="$(stat -c %s "${out}" 2>/dev/null || echo 0)" 'BEGIN{print b/1048576}')" "${rc}" "$(load)")"
  rm -f "${t}"
}

say "# live collection, $(date -u +%FT%TZ), $(nproc) CPUs, cluster ${UPGATE_CLUSTER} (${K8S_VERSION}, kwok)"
say "# $(k get nodes -o name | wc -l) nodes, $(k get pods -A -o name --chunk-size=2000 | wc -l) pods ($(k get pods -A --field-selector=status.phase=Running -o name --chunk-size=2000 | wc -l) Running)"
for round in 1 2; do
  measure "upgate snapshot (${round})" "${WORK}/snapshot.json" 0 \
    "${WORK}/upgate" snapshot --kubeconfig "${KUBECONFIG}" -o "${WORK}/snapshot.json"
  measure "kubectl get -o json (${round})" "${WORK}/kubectl.json" 0 \
    "${KUBECTL}" --kubeconfig "${KUBECONFIG}" get "${RESOURCES}" -A -o json
done
measure "upgate check (live)" "${WORK}/report.json" 1 \
  "${WORK}/upgate" check --kubeconfig "${KUBECONFIG}" --target v1.36 --format json
measure "upgate check --from snapshot" "${WORK}/report2.json" 1 \
  "${WORK}/upgate" check --from "${WORK}/snapshot.json" --target v1.36 --format json
say "# results: ${RESULTS}"
