#!/usr/bin/env bash
# A node-upgrade driver for the local cluster of hack/cluster.sh, used as
#   upgate run --driver command --driver-command hack/cluster-driver.sh
# It does to the local cluster what an operator's script does to a real
# one, with the environment upgate gives every driver call:
#   UPGATE_STAGE   etcd-backup, etcd, control-plane, cloud-controller-manager,
#                  workers or addons
#   UPGATE_NODE    the node (empty for the etcd-backup, CCM and add-on stages)
#   UPGATE_TARGET  the version of the hop being run
#
# control-plane / etcd: the local cluster runs one kube-apiserver,
#   kube-controller-manager and kube-scheduler for all its control-plane
#   nodes. The first control-plane node of a hop swaps those processes for
#   the target's binaries (${UPGATE_CACHE}/bin/<version>/, built by
#   hack/build-cluster-bins.sh with UPGRADE_VERSION): each is stopped and
#   started again on the same etcd data, certificates and flags, so the API
#   server really goes away and /version really changes. Then, as for every
#   node, the node's kubelet version and its mirror pods' image tags are set
#   to the target (kwok simulates the kubelet).
# workers: the kubelet version, as kwok cannot run a real kubelet.
# cloud-controller-manager / addons: the image tag of the kube-system CCM
#   (label component=cloud-controller-manager) or kube-proxy (k8s-app=
#   kube-proxy) Deployments and DaemonSets.
# etcd-backup: nothing here; upgate takes the snapshot itself when given
#   --etcd-endpoints.
#
# Environment: UPGATE_CACHE, UPGATE_CLUSTER as for hack/cluster.sh.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UPGATE_CACHE="${UPGATE_CACHE:-$HOME/.cache/upgate}"
CLUSTER="${UPGATE_CLUSTER:-upgate}"
CLUSTER_DIR="${UPGATE_CACHE}/kwok/clusters/${CLUSTER}"

log() { printf '[cluster-driver %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
k() { "${HACK_DIR}/cluster.sh" kubectl "$@"; }

stage=${UPGATE_STAGE:?UPGATE_STAGE is not set: run me as upgate run --driver command}
node=${UPGATE_NODE:-}
# The etcd-backup stage is called without a target.
target=${UPGATE_TARGET:-}
if [[ "${stage}" != etcd-backup ]]; then
  [[ "${target}" =~ ^v1\.[0-9]+(\.[0-9]+)?$ ]] || die "UPGATE_TARGET '${target}' is not v1.Y or v1.Y.Z"
fi

# bin_dir VERSION: the cached control-plane binaries for VERSION; a target
# without a patch (v1.37) takes the newest cached patch of its minor.
bin_dir() {
  local v=$1 d best=""
  if [[ -x "${UPGATE_CACHE}/bin/${v}/kube-apiserver" ]]; then
    echo "${UPGATE_CACHE}/bin/${v}"
    return
  fi
  if [[ "${v}" =~ ^v1\.[0-9]+$ ]]; then
    for d in "${UPGATE_CACHE}/bin/${v}".*; do
      [[ -x "${d}/kube-apiserver" ]] || continue
      if [[ -z "${best}" ]] || [[ "$(printf '%s\n%s\n' "${best##*.}" "${d##*.}" | sort -n | tail -1)" == "${d##*.}" ]]; then
        best=${d}
      fi
    done
  fi
  [[ -n "${best}" ]] || die "no control-plane binaries for ${v} in ${UPGATE_CACHE}/bin: run UPGRADE_VERSION=${v} hack/build-cluster-bins.sh"
  echo "${best}"
}

# running_dir NAME: the cache directory of the binary NAME runs from.
running_dir() {
  local pid
  pid=$(tr -dc '0-9' <"${CLUSTER_DIR}/pids/$1.pid")
  dirname "$(readlink "/proc/${pid}/exe")"
}

# swap_control_plane DIR: run the control plane from DIR's binaries; a
# component already running from DIR is left alone, so a resumed run
# does not restart it again.
swap_control_plane() {
  local dir=$1 c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    if [[ "$(running_dir "${c}")" == "${dir}" ]]; then
      log "${c} already runs from ${dir}"
      continue
    fi
    log "swapping ${c} for ${dir}/${c}"
    "${HACK_DIR}/cluster.sh" restart-component "${c}" 0 "${dir}/${c}"
    if [[ "${c}" == kube-apiserver ]]; then
      wait_api
    fi
  done
  log "API server reports $(k version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -1)"
}

wait_api() {
  local i
  for ((i = 0; i < 120; i++)); do
    if k --request-timeout=5s get --raw=/readyz >/dev/null 2>&1; then
      return
    fi
    sleep 1
  done
  die "the API server did not come back within 2m"
}

# full VERSION: v1.37 -> the patch the binaries run (v1.37.2), so that
# kubelets and images name what the API server reports.
full() {
  local dir
  dir=$(bin_dir "$1")
  basename "${dir}"
}

set_node() {
  local v=$1
  k patch node "${node}" --subresource=status --type=merge \
    -p "{\"status\":{\"nodeInfo\":{\"kubeletVersion\":\"${v}\",\"kubeProxyVersion\":\"${v}\"}}}" >&2
  local pod c img
  while read -r pod; do
    [[ -n "${pod}" ]] || continue
    while IFS='=' read -r c img; do
      [[ -n "${c}" ]] || continue
      k -n kube-system set image "pod/${pod}" "${c}=${img%:*}:${v}" >&2
    done < <(k -n kube-system get pod "${pod}" -o jsonpath='{range .spec.containers[*]}{.name}={.image}{"\n"}{end}')
  done < <(k -n kube-system get pods -l 'component in (kube-apiserver,kube-controller-manager,kube-scheduler)' \
    --field-selector "spec.nodeName=${node}" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
  log "${node}: kubelet and control-plane pod images -> ${v}"
}

retag_workloads() {
  local selector=$1 v=$2 kind name c img
  for kind in deployment daemonset; do
    while read -r name; do
      [[ -n "${name}" ]] || continue
      while IFS='=' read -r c img; do
        [[ -n "${c}" ]] || continue
        k -n kube-system set image "${kind}/${name}" "${c}=${img%:*}:${v}" >&2
      done < <(k -n kube-system get "${kind}" "${name}" -o jsonpath='{range .spec.template.spec.containers[*]}{.name}={.image}{"\n"}{end}')
      log "${kind} kube-system/${name} -> ${v}"
    done < <(k -n kube-system get "${kind}" -l "${selector}" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
  done
}

case "${stage}" in
  etcd-backup)
    log "nothing to do: upgate takes the etcd snapshot itself (--etcd-endpoints)"
    ;;
  etcd | control-plane)
    [[ -n "${node}" ]] || die "no UPGATE_NODE for stage ${stage}"
    dir=$(bin_dir "${target}")
    swap_control_plane "${dir}"
    set_node "$(basename "${dir}")"
    ;;
  workers)
    [[ -n "${node}" ]] || die "no UPGATE_NODE for stage ${stage}"
    set_node "$(full "${target}" 2>/dev/null || echo "${target}")"
    ;;
  cloud-controller-manager)
    retag_workloads component=cloud-controller-manager "$(full "${target}" 2>/dev/null || echo "${target}")"
    ;;
  addons)
    retag_workloads k8s-app=kube-proxy "$(full "${target}" 2>/dev/null || echo "${target}")"
    ;;
  *)
    die "unknown UPGATE_STAGE ${stage}"
    ;;
esac
