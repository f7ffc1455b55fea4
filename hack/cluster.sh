#!/usr/bin/env bash
# Run a real local Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) with kwok faking the nodes, seeded
# to look like a small kubeadm cluster, for tests and the demo.
#
# Usage: hack/cluster.sh up|down|status|kubeconfig|seed-hazards|kubectl ARGS...
#
#   up            build/cache the binaries (no-op when cached), create the
#                 cluster, seed it from hack/cluster/*.yaml, wait until nodes
#                 are Ready and pods Running; the last line printed on stdout
#                 is the kubeconfig path (progress goes to stderr), so
#                 `export KUBECONFIG=$(hack/cluster.sh up)` works
#   down          delete the cluster and make sure none of its processes live on
#   status        show the cluster; exit 1 if it is not running
#   kubeconfig    print the kubeconfig path; exit 1 if there is none
#   seed-hazards  add upgrade hazards in namespace `hazards` (see
#                 hack/cluster/hazards.yaml) and give worker-3 an old kubelet
#   kubectl ...   run the cached kubectl against the cluster
#   restart-component NAME [SECONDS] [BINARY]
#                 stop a running component (kube-apiserver, etcd, ...) with
#                 SIGTERM, keep it down SECONDS (default 0), and start it
#                 again with the same flags, working directory and log,
#                 from BINARY when given (a control-plane upgrade), else
#                 from the binary it ran; the cluster's pid file follows it.
#                 It first records how every component runs, for `revive`
#   etcd-endpoints  print the etcd URLs the running kube-apiserver uses
#                 (its --etcd-servers), for upgate run --etcd-endpoints
#   revive        start again, as recorded, every component that has exited
#                 since the last restart-component (the controller-manager
#                 and scheduler exit when they lose their leader lease while
#                 the API server is away; a kubelet would restart them)
#
# Environment:
#   UPGATE_CACHE    cache root (default $HOME/.cache/upgate)
#   UPGATE_CLUSTER  cluster name (default upgate)
#   K8S_VERSION     control-plane version to build and run (default v1.36.3)
#   UPGATE_CLUSTER_TIMEOUT  how long to wait for readiness (default 180s)
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MANIFESTS="${HACK_DIR}/cluster"

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
UPGATE_CACHE="${UPGATE_CACHE:-$HOME/.cache/upgate}"
CLUSTER="${UPGATE_CLUSTER:-upgate}"
WAIT_TIMEOUT="${UPGATE_CLUSTER_TIMEOUT:-180s}"

BIN_DIR="${UPGATE_CACHE}/bin/${K8S_VERSION}"
# Always the kubectl we built: the machine's /usr/bin/kubectl is v1.32,
# outside the version-skew window of a 1.36 server.
KUBECTL="${BIN_DIR}/kubectl"
KWOKCTL="${BIN_DIR}/kwokctl"
KUBECONFIG_PATH="${UPGATE_CACHE}/kubeconfig-${CLUSTER}"

# Keep kwokctl's state (certs, etcd data, logs, pid files) in our cache
# instead of $HOME/.kwok.
export KWOK_WORKDIR="${UPGATE_CACHE}/kwok"
CLUSTER_DIR="${KWOK_WORKDIR}/clusters/${CLUSTER}"

# Beta APIs that 1.36 deprecates but still serves when asked to (removed in
# 1.37): the e2e tests of api.* create objects through them.
KUBE_RUNTIME_CONFIG="${KUBE_RUNTIME_CONFIG:-storage.k8s.io/v1beta1=true,networking.k8s.io/v1beta1=true}"

# What the seeded nodes report, and the deliberately old kubelet of the
# seeded hazard.
NODE_KUBELET_VERSION=v1.35.2
OLD_KUBELET_VERSION=v1.31.0
CP_NODES=(cp-1 cp-2 cp-3)
WORKER_NODES=(worker-1 worker-2 worker-3)

log() { printf '[cluster %s] %s\n' "${CLUSTER}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

k() { "${KUBECTL}" --kubeconfig "${KUBECONFIG_PATH}" "$@"; }

kwok_ctl() {
  # kwokctl's defaults download release binaries, which this machine cannot
  # reach: every binary comes from our cache. kubectl has no flag, only the
  # env var. The config file keeps every component on 127.0.0.1.
  KWOK_KUBE_VERSION="${K8S_VERSION}" \
    KWOK_KUBECTL_BINARY="${KUBECTL}" \
    "${KWOKCTL}" --config "${MANIFESTS}/kwokctl.yaml" "$@"
}

need_bins() {
  local b
  for b in kubectl kwokctl kwok etcd kube-apiserver kube-controller-manager kube-scheduler; do
    [[ -x "${BIN_DIR}/${b}" ]] || die "missing ${BIN_DIR}/${b}; run hack/build-cluster-bins.sh"
  done
}

cluster_exists() {
  [[ -x "${KWOKCTL}" ]] || return 1
  kwok_ctl get clusters 2>/dev/null | grep -qx -- "${CLUSTER}"
}

api_up() {
  [[ -f "${KUBECONFIG_PATH}" ]] && k --request-timeout=5s get --raw=/readyz >/dev/null 2>&1
}

# ---------------------------------------------------------------- seeding

ensure_kubelet_version() {
  local node=$1 want=$2 got
  got=$(k get node "${node}" -o jsonpath='{.status.nodeInfo.kubeletVersion}')
  if [[ "${got}" != "${want}" ]]; then
    log "node ${node}: kubeletVersion ${got:-<empty>} -> ${want} (status subresource)"
    k patch node "${node}" --subresource=status --type=merge \
      -p "{\"status\":{\"nodeInfo\":{\"kubeletVersion\":\"${want}\"}}}" >&2
  fi
}

# check_kubelet_version NODE WANT: fail if the version did not stick (kwok's
# node stages rewrite status; make sure they kept ours).
check_kubelet_version() {
  local node=$1 want=$2 got
  got=$(k get node "${node}" -o jsonpath='{.status.nodeInfo.kubeletVersion}')
  [[ "${got}" == "${want}" ]] || die "node ${node} reports kubeletVersion ${got}, want ${want}"
}

seed_nodes() {
  log "creating nodes ${CP_NODES[*]} ${WORKER_NODES[*]}"
  k apply -f "${MANIFESTS}/nodes.yaml" >&2
  local n
  for n in "${CP_NODES[@]}" "${WORKER_NODES[@]}"; do
    # worker-3 may carry the seeded old kubelet from seed-hazards: keep it.
    if [[ "${n}" == worker-3 ]] && k get ns hazards >/dev/null 2>&1; then continue; fi
    ensure_kubelet_version "${n}" "${NODE_KUBELET_VERSION}"
  done
  log "waiting for nodes to be Ready"
  k wait --for=condition=Ready node --all --timeout="${WAIT_TIMEOUT}" >&2
}

seed_control_plane_pods() {
  local n uid ip seen c
  for n in "${CP_NODES[@]}"; do
    # Mirror pods are owned by their Node, so the uid is only known now.
    uid=$(k get node "${n}" -o jsonpath='{.metadata.uid}')
    ip=$(k get node "${n}" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
    # Derived from the node, so re-running `up` renders the same objects and
    # `kubectl apply` has nothing to change.
    seen=$(k get node "${n}" -o jsonpath='{.metadata.creationTimestamp}')
    local -a subst=(-e "s|__NODE_UID__|${uid}|g" -e "s|__NODE_IP__|${ip}|g"
      -e "s|__NODE__|${n}|g" -e "s|__SEEN__|${seen}|g")
    for c in ETCD APISERVER KCM SCHED; do
      subst+=(-e "s|__HASH_${c}__|$(printf '%s/%s' "${n}" "${c}" | md5sum | cut -c1-32)|g")
    done
    log "creating control-plane mirror pods on ${n}"
    sed "${subst[@]}" "${MANIFESTS}/control-plane-pods.yaml" | k apply -f - >&2
  done
}

wait_workloads() {
  # wait_workloads NAMESPACE KIND/NAME...: rollouts done, then every pod in
  # the namespace Running.
  local ns=$1 w
  shift
  for w in "$@"; do
    k -n "${ns}" rollout status "${w}" --timeout="${WAIT_TIMEOUT}" >&2
  done
  k -n "${ns}" wait pod --all --for=jsonpath='{.status.phase}'=Running \
    --timeout="${WAIT_TIMEOUT}" >&2
}

seed_cluster() {
  seed_nodes
  seed_control_plane_pods
  log "creating kube-proxy, CoreDNS and the shop app"
  k apply -f "${MANIFESTS}/addons.yaml" >&2
  k apply -f "${MANIFESTS}/shop.yaml" >&2
  log "waiting for pods to be Running"
  wait_workloads kube-system daemonset/kube-proxy deployment/coredns
  wait_workloads shop deployment/storefront
  # A last look: kwok's stages have run on every node by now.
  local n
  for n in "${CP_NODES[@]}" worker-1 worker-2; do
    check_kubelet_version "${n}" "${NODE_KUBELET_VERSION}"
  done
}

# ---------------------------------------------------------------- commands

cmd_up() {
  "${HACK_DIR}/build-cluster-bins.sh" >&2
  need_bins
  mkdir -p "${KWOK_WORKDIR}"

  if cluster_exists; then
    if [[ ! -f "${KUBECONFIG_PATH}" ]]; then
      kwok_ctl get kubeconfig --name "${CLUSTER}" >"${KUBECONFIG_PATH}"
    fi
    if ! api_up; then
      log "cluster exists but is stopped; starting it"
      kwok_ctl start cluster --name "${CLUSTER}" >&2
    else
      log "cluster already running; re-seeding"
    fi
  else
    log "creating cluster (kwokctl, binary runtime, ${K8S_VERSION})"
    rm -f "${KUBECONFIG_PATH}"
    # kwokctl picks each component's port as the first free one it finds
    # when it creates a cluster, so two clusters created at once (a soak
    # beside the e2e suite) get the same ports and one API server cannot
    # bind: create them one at a time. The components kwokctl starts must
    # not inherit the lock (8>&- below), or they would hold it for life.
    mkdir -p "${KWOK_WORKDIR}"
    exec 8>"${KWOK_WORKDIR}/.create.lock"
    if ! flock -n 8; then
      log "another cluster is being created; waiting for it"
      flock 8
    fi
    kwok_ctl create cluster \
      --name "${CLUSTER}" \
      --runtime binary \
      --kube-apiserver-binary "${BIN_DIR}/kube-apiserver" \
      --kube-controller-manager-binary "${BIN_DIR}/kube-controller-manager" \
      --kube-scheduler-binary "${BIN_DIR}/kube-scheduler" \
      --kwok-controller-binary "${BIN_DIR}/kwok" \
      --etcd-binary "${BIN_DIR}/etcd" \
      --disable-qps-limits \
      --kube-runtime-config "${KUBE_RUNTIME_CONFIG}" \
      --kubeconfig "${KUBECONFIG_PATH}" \
      --extra-args "kwok-controller=config=${MANIFESTS}/kwok-stages.yaml" \
      --wait 2m >&2 8>&-
    flock -u 8
    exec 8>&-
  fi
  chmod 0600 "${KUBECONFIG_PATH}"

  local server
  server=$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  case "${server}" in
    https://127.0.0.1:*) ;;
    *) die "API server address ${server} is not on 127.0.0.1" ;;
  esac
  log "API server ${server} reports $(k version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -1)"

  seed_cluster
  log "cluster ready"
  echo "${KUBECONFIG_PATH}"
}

cmd_seed_hazards() {
  need_bins
  api_up || die "cluster is not running; run hack/cluster.sh up first"
  log "seeding hazards in namespace hazards"
  k apply -f "${MANIFESTS}/hazards.yaml" >&2
  ensure_kubelet_version worker-3 "${OLD_KUBELET_VERSION}"
  k -n hazards wait pod/bare --for=jsonpath='{.status.phase}'=Running --timeout="${WAIT_TIMEOUT}" >&2
  wait_workloads hazards deployment/cache deployment/db deployment/api
  check_kubelet_version worker-3 "${OLD_KUBELET_VERSION}"
  log "hazards seeded: bare pod, emptyDir cache, singleton db, api blocked by api-pdb, worker-3 kubelet ${OLD_KUBELET_VERSION}"
}

# wait_pids_gone SECONDS PID...: true once none of the pids exists any more.
wait_pids_gone() {
  local tries=$(($1 * 5)) pid alive
  shift
  while :; do
    alive=0
    for pid in "$@"; do
      [[ -e "/proc/${pid}" ]] && alive=1
    done
    ((alive)) || return 0
    ((tries-- > 0)) || return 1
    sleep 0.2
  done
}

cmd_down() {
  if [[ ! -x "${KWOKCTL}" ]]; then
    log "no kwokctl in ${BIN_DIR}; nothing to delete"
    return 0
  fi
  # Remember the pids kwokctl recorded before it deletes them with the
  # cluster directory, to make sure below that they are all gone.
  local pids=() f pid
  if [[ -d "${CLUSTER_DIR}/pids" ]]; then
    for f in "${CLUSTER_DIR}"/pids/*.pid; do
      [[ -f "${f}" ]] || continue
      pid=$(tr -dc '0-9' <"${f}")
      [[ -n "${pid}" ]] && pids+=("${pid}")
    done
  fi
  if cluster_exists; then
    log "deleting cluster"
    kwok_ctl delete cluster --name "${CLUSTER}" --kubeconfig "${KUBECONFIG_PATH}" >&2
  else
    log "cluster does not exist"
  fi
  # kwokctl stops its components, but a component stuck in shutdown would
  # keep ports and etcd data busy: give them a moment, then stop any
  # survivor, by pid, and only if it still runs one of our cached binaries
  # (the pid may have been reused). A stopped component lingers briefly as a
  # zombie until init reaps it (kwokctl detached it), so wait for that too:
  # callers check with pgrep right after `down`.
  local exe
  if [[ ${#pids[@]} -gt 0 ]]; then
    wait_pids_gone 10 "${pids[@]}" || true
    for pid in "${pids[@]}"; do
      exe=$(readlink "/proc/${pid}/exe" 2>/dev/null || true)
      [[ "${exe}" == "${UPGATE_CACHE}/bin/"* ]] || continue
      log "process ${pid} (${exe##*/}) survived the delete; stopping it"
      kill -TERM "${pid}" 2>/dev/null || true
      if ! wait_pids_gone 10 "${pid}"; then
        kill -KILL "${pid}" 2>/dev/null || true
      fi
    done
    wait_pids_gone 10 "${pids[@]}" || log "warning: some of pids ${pids[*]} still exist"
  fi
  rm -f "${KUBECONFIG_PATH}"
  log "cluster is down"
}

cmd_status() {
  if ! cluster_exists; then
    log "cluster does not exist"
    return 1
  fi
  if ! api_up; then
    log "cluster exists but its API server does not answer"
    return 1
  fi
  echo "cluster:    ${CLUSTER}"
  echo "kubeconfig: ${KUBECONFIG_PATH}"
  echo "workdir:    ${CLUSTER_DIR}"
  k version
  k get nodes -o wide
  k get pods -A -o wide
}

# Every component kwokctl's binary runtime starts is a detached process
# whose pid is in ${CLUSTER_DIR}/pids/NAME.pid and whose flags are in
# /proc/PID/cmdline. record_components keeps, for each live one, its
# working directory, binary and arguments in ${CLUSTER_DIR}/cmdlines/NAME
# (NUL-separated), so that a component that exits can be started again
# once /proc no longer knows how it ran.
record_components() {
  local pidfile name pid exe
  mkdir -p "${CLUSTER_DIR}/cmdlines"
  for pidfile in "${CLUSTER_DIR}"/pids/*.pid; do
    [[ -f "${pidfile}" ]] || continue
    name=$(basename "${pidfile}" .pid)
    pid=$(tr -dc '0-9' <"${pidfile}")
    [[ -n "${pid}" && -d "/proc/${pid}" ]] || continue
    exe=$(readlink "/proc/${pid}/exe" 2>/dev/null) || continue
    [[ "${exe}" == "${UPGATE_CACHE}/bin/"* ]] || continue
    {
      readlink "/proc/${pid}/cwd" | tr -d '\n'
      printf '\0%s\0' "${exe}"
      # argv[0] is dropped: the binary above replaces it.
      tail -z -n +2 "/proc/${pid}/cmdline"
    } >"${CLUSTER_DIR}/cmdlines/${name}.tmp" &&
      mv -f "${CLUSTER_DIR}/cmdlines/${name}.tmp" "${CLUSTER_DIR}/cmdlines/${name}"
  done
}

# start_component NAME [BINARY]: start NAME as recorded, detached, its log
# appended to, from BINARY when given; the pid file and the record follow.
start_component() {
  local name=$1 bin=${2:-} rec="${CLUSTER_DIR}/cmdlines/$1"
  [[ -f "${rec}" ]] || die "no record of how ${name} ran (${rec})"
  local -a f=()
  mapfile -d '' -t f <"${rec}"
  ((${#f[@]} >= 2)) || die "the record of ${name} is damaged (${rec})"
  local cwd=${f[0]}
  [[ -n "${bin}" ]] || bin=${f[1]}
  [[ -x "${bin}" ]] || die "no executable ${bin}"
  local logfile="${CLUSTER_DIR}/logs/${name}.log" pid
  log "starting ${name} from ${bin}"
  (cd "${cwd}" && exec setsid "${bin}" "${f[@]:2}" >>"${logfile}" 2>&1 </dev/null) &
  pid=$!
  disown "${pid}" 2>/dev/null || true
  echo "${pid}" >"${CLUSTER_DIR}/pids/${name}.pid.tmp" && mv -f "${CLUSTER_DIR}/pids/${name}.pid.tmp" "${CLUSTER_DIR}/pids/${name}.pid"
  { printf '%s\0%s\0' "${cwd}" "${bin}"; printf '%s\0' "${f[@]:2}"; } >"${rec}.tmp" && mv -f "${rec}.tmp" "${rec}"
  log "${name} runs as pid ${pid}"
}

# Stopping a component and starting it by hand, with the same flags and
# data, is what an operator's in-place upgrade of a control-plane process
# does, so tests use restart-component to take the API server away for
# real.
cmd_restart_component() {
  local name=${1:?component name} down=${2:-0} bin=${3:-}
  local pidfile="${CLUSTER_DIR}/pids/${name}.pid" pid
  [[ -f "${pidfile}" ]] || die "no pid file ${pidfile}: is the cluster running?"
  pid=$(tr -dc '0-9' <"${pidfile}")
  if [[ -z "${pid}" || ! -d "/proc/${pid}" ]]; then
    # It exited already (the controller-manager does when the API server
    # it talks to is restarted): start it as recorded.
    [[ -f "${CLUSTER_DIR}/cmdlines/${name}" ]] || die "${name} (pid ${pid:-?}) is not running and there is no record of how it ran"
    log "${name} (pid ${pid:-?}) is not running; starting it as recorded"
    start_component "${name}" "${bin}"
    return
  fi
  local exe
  exe=$(readlink "/proc/${pid}/exe")
  [[ "${exe}" == "${UPGATE_CACHE}/bin/"* ]] || die "${name} (pid ${pid}) runs ${exe}, not a binary of ours"
  # Record every component, not only this one: the controller-manager and
  # the scheduler exit when they cannot renew their leader lease while the
  # API server is away, and `revive` starts them again from this record.
  record_components
  # kube-apiserver's graceful shutdown waits on its open watches; past
  # this grace (RESTART_GRACE seconds) it is killed, as a kubelet does.
  local grace=${RESTART_GRACE:-15}
  log "stopping ${name} (pid ${pid})"
  kill -TERM "${pid}"
  if ! wait_pids_gone "${grace}" "${pid}"; then
    log "${name} did not stop in ${grace}s; killing it"
    kill -KILL "${pid}" 2>/dev/null || true
    wait_pids_gone 10 "${pid}" || die "${name} (pid ${pid}) does not die"
  fi
  if ((down > 0)); then
    log "${name} stays down for ${down}s"
    sleep "${down}"
  fi
  start_component "${name}" "${bin}"
}

# cmd_revive: start again every recorded component whose process has
# exited, as a kubelet restarts a static pod. A component that never
# exited is left alone.
cmd_revive() {
  local rec name pid n=0
  for rec in "${CLUSTER_DIR}"/cmdlines/*; do
    [[ -f "${rec}" && "${rec}" != *.tmp ]] || continue
    name=$(basename "${rec}")
    pid=$(tr -dc '0-9' <"${CLUSTER_DIR}/pids/${name}.pid" 2>/dev/null || true)
    if [[ -n "${pid}" && -d "/proc/${pid}" ]]; then
      continue
    fi
    log "${name} (pid ${pid:-?}) has exited"
    start_component "${name}"
    n=$((n + 1))
  done
  log "revived ${n} component(s)"
}

# cmd_etcd_endpoints: the running kube-apiserver's --etcd-servers, read
# from its command line. The local etcd speaks plain http on loopback, so
# no certificate flags go with it.
cmd_etcd_endpoints() {
  local pid arg
  pid=$(tr -dc '0-9' <"${CLUSTER_DIR}/pids/kube-apiserver.pid" 2>/dev/null || true)
  [[ -n "${pid}" && -d "/proc/${pid}" ]] || die "kube-apiserver is not running"
  local next=0
  while IFS= read -r -d '' arg; do
    if ((next)); then
      echo "${arg}"
      return
    fi
    case "${arg}" in
      --etcd-servers=*) echo "${arg#--etcd-servers=}"; return ;;
      --etcd-servers) next=1 ;;
    esac
  done <"/proc/${pid}/cmdline"
  die "kube-apiserver (pid ${pid}) has no --etcd-servers flag"
}

cmd_kubeconfig() {
  [[ -f "${KUBECONFIG_PATH}" ]] || die "no kubeconfig at ${KUBECONFIG_PATH}; run hack/cluster.sh up"
  echo "${KUBECONFIG_PATH}"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case "${cmd}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    kubeconfig) cmd_kubeconfig ;;
    seed-hazards) cmd_seed_hazards ;;
    kubectl) need_bins; k "$@" ;;
    restart-component) cmd_restart_component "$@" ;;
    revive) cmd_revive ;;
    etcd-endpoints) cmd_etcd_endpoints ;;
    -h | --help | help) usage ;;
    *) log "unknown command: ${cmd}"; usage ;;
  esac
}

main "$@"
