#!/usr/bin/env bash
# Build and cache the binaries of a real local Kubernetes control plane
# (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd) and
# of kwok/kwokctl, from the Go module proxy only.
#
# Why from source: this machine reaches the Go module proxy but nothing else,
# so the release tarballs that kwokctl would download are out of reach.
#
# The binaries land OUTSIDE the repo, in
#   ${UPGATE_CACHE:-$HOME/.cache/upgate}/bin/<k8s-version>/
# and a binary already there is never rebuilt, so running this again is a
# cheap no-op. A cold build takes ~9 minutes on an idle 2-core machine (30
# minutes measured while other builds shared the cores) and fills ~7 GB of
# Go module and build cache.
#
# Environment:
#   UPGATE_CACHE   cache root            (default $HOME/.cache/upgate)
#   K8S_VERSION    k8s.io/kubernetes     (default v1.36.3)
#   ETCD_VERSION   go.etcd.io/etcd       (default v3.6.16)
#   KWOK_VERSION   sigs.k8s.io/kwok      (default v0.8.0)
#   UPGRADE_VERSION  the control plane a real upgrade goes to: its
#                  kube-apiserver, kube-controller-manager and kube-scheduler
#                  are built into bin/<UPGRADE_VERSION>/ beside the others
#                  (default v1.37.2; empty: not built). The same etcd serves
#                  both, and hack/cluster-driver.sh swaps them in.
#   CLUSTER_BINS_GOTOOLCHAIN  the Go that builds them (default local: the
#                  machine's own Go, whatever GOTOOLCHAIN make exports)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
UPGRADE_VERSION="${UPGRADE_VERSION-v1.37.2}"
UPGATE_CACHE="${UPGATE_CACHE:-$HOME/.cache/upgate}"

BIN_DIR="${UPGATE_CACHE}/bin/${K8S_VERSION}"
# Throwaway Go modules live in the cache, never in the repo: keeping them
# there lets a re-run reuse their go.sum instead of resolving everything again.
SRC_DIR="${UPGATE_CACHE}/src"

# Static, reproducible-ish binaries; the versions we need do not use cgo.
export CGO_ENABLED=0
# The proxy refuses @latest and we pin every version, so never let the go
# command switch toolchains behind our back. These binaries are test
# fixtures run on loopback, never shipped, and they are known to build with
# the machine's own Go; make exports GOTOOLCHAIN=go1.27.3 for upgate itself,
# and a build of Kubernetes with it has not been tried (it takes 10-30
# minutes), so this script does not follow make's GOTOOLCHAIN: a fresh
# machine builds them as before. Set CLUSTER_BINS_GOTOOLCHAIN to change that.
export GOTOOLCHAIN="${CLUSTER_BINS_GOTOOLCHAIN:-local}"
# A throwaway module has no VCS checkout to stamp.
export GOFLAGS="${GOFLAGS:+${GOFLAGS} }-buildvcs=false"

log() { printf '[build-cluster-bins %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

case "${K8S_VERSION}" in
  v1.*) ;;
  *) die "K8S_VERSION must look like v1.Y.Z, got '${K8S_VERSION}'" ;;
esac
case "${UPGRADE_VERSION}" in
  "" | v1.*) ;;
  *) die "UPGRADE_VERSION must look like v1.Y.Z or be empty, got '${UPGRADE_VERSION}'" ;;
esac

mkdir -p "${BIN_DIR}" "${SRC_DIR}"

# `hack/cluster.sh up` calls this script while a background build may already
# be running: serialise them so the second one waits and then finds
# everything cached instead of building the same binary twice.
exec 9>"${UPGATE_CACHE}/.build-cluster-bins.lock"
if ! flock -n 9; then
  log "another build is running; waiting for its lock"
  flock 9
fi

# Clean up temporary outputs of an interrupted run on exit (ours are named
# .<name>.tmp.<pid>); a finished binary is only ever produced by mv.
TMP_FILES=()
cleanup() {
  local f
  for f in "${TMP_FILES[@]+"${TMP_FILES[@]}"}"; do rm -rf "$f"; done
}
trap cleanup EXIT

# Each go command runs in its own process group (see run_go) so that an
# interrupt stops the whole build, compiler and linker included: an orphaned
# `go build` would go on writing into the cache after we are gone, and (had
# it inherited our lock fd) keep every other run waiting.
CHILD=""
on_signal() {
  if [[ -n "${CHILD}" ]]; then
    kill -TERM -- "-${CHILD}" 2>/dev/null || true
    wait "${CHILD}" 2>/dev/null || true
  fi
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# run_go ARGS...: `go ARGS...` in a new session / process group, without our
# lock fd, waiting for it in a way that lets INT/TERM traps run at once.
run_go() {
  setsid go "$@" 9>&- &
  CHILD=$!
  local rc=0
  wait "${CHILD}" || rc=$?
  CHILD=""
  return "${rc}"
}

# We hold the lock, so any temporary output left in the cache belongs to a
# build that was killed (e.g. its go child outlived it): drop it.
find "${BIN_DIR}" "${UPGATE_CACHE}/bin/${UPGRADE_VERSION:-none}" -maxdepth 1 -name '.*.tmp.*' -exec rm -rf {} + 2>/dev/null || true
find "${BIN_DIR}" -maxdepth 1 -name '.gobin.*' -exec rm -rf {} +

START_ALL=$(date +%s)

# have NAME: true if the cached binary exists and is executable (BIN_DIR is
# the caller's, which build_k8s sets for the version it builds).
have() { [[ -x "${BIN_DIR}/$1" ]]; }

# finish NAME TMP START: move a freshly built binary into place atomically.
finish() {
  local name=$1 tmp=$2 start=$3
  [[ -s "${tmp}" ]] || die "build of ${name} produced no binary"
  chmod 0755 "${tmp}"
  mv -f "${tmp}" "${BIN_DIR}/${name}"
  log "built ${name} in $(( $(date +%s) - start ))s -> ${BIN_DIR}/${name}"
}

K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
# What a control-plane upgrade swaps: kubectl stays at K8S_VERSION.
UPGRADE_BINS=(kube-apiserver kube-controller-manager kube-scheduler)

# ---------------------------------------------------------------- kubernetes
# build_k8s VERSION BINS...: build BINS of k8s.io/kubernetes VERSION into
# ${UPGATE_CACHE}/bin/VERSION/.
build_k8s() {
  local K8S_VERSION=$1
  shift
  local BIN_DIR="${UPGATE_CACHE}/bin/${K8S_VERSION}"
  mkdir -p "${BIN_DIR}"
  local missing=() b
  for b in "$@"; do have "$b" || missing+=("$b"); done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "kubernetes ${K8S_VERSION}: all binaries cached"
    return
  fi

  log "kubernetes ${K8S_VERSION}: resolving k8s.io/kubernetes on the module proxy"
  local json gomod info
  json=$(cd "${SRC_DIR}" && go mod download -json "k8s.io/kubernetes@${K8S_VERSION}")
  gomod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"${json}")
  info=$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",\{0,1\}$/\1/p' <<<"${json}")
  [[ -f "${gomod}" ]] || die "could not locate go.mod of k8s.io/kubernetes@${K8S_VERSION}"

  # k8s.io/kubernetes replaces its staging modules (k8s.io/api, client-go...)
  # with ./staging/src/...; those replaces do not apply when it is a
  # dependency, and it requires them at v0.0.0, so we pin each one to the
  # published v0.Y.Z that matches v1.Y.Z. The list comes from its own go.mod
  # so a new staging module in a later release is picked up automatically.
  local staging_version="v0.${K8S_VERSION#v1.}"
  local staging
  staging=$(awk '/=>[[:space:]]*\.\/staging\// {
      m = ($1 == "replace") ? $2 : $1; print m }' "${gomod}" | sort -u)
  [[ -n "${staging}" ]] || die "no staging replaces found in ${gomod}"

  local go_directive
  go_directive=$(awk '$1 == "go" { print $2; exit }' "${gomod}")

  local mod_dir="${SRC_DIR}/k8s-${K8S_VERSION}"
  mkdir -p "${mod_dir}"
  {
    echo "// Generated by hack/build-cluster-bins.sh: a throwaway module to build"
    echo "// k8s.io/kubernetes ${K8S_VERSION} binaries from the module proxy."
    echo "module upgate.local/k8sbins"
    echo
    echo "go ${go_directive}"
    echo
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo
    echo "replace ("
    local m
    while read -r m; do
      case "$m" in
        # The proxy refuses these two (403) and no binary we build needs them.
        k8s.io/sample-cli-plugin | k8s.io/sample-controller) continue ;;
      esac
      echo "	${m} => ${m} ${staging_version}"
    done <<<"${staging}"
    echo ")"
  } >"${mod_dir}/go.mod.new"
  # Only replace go.mod when it changed, so a warm go.sum stays valid.
  if ! cmp -s "${mod_dir}/go.mod.new" "${mod_dir}/go.mod.src" 2>/dev/null; then
    cp "${mod_dir}/go.mod.new" "${mod_dir}/go.mod"
    cp "${mod_dir}/go.mod.new" "${mod_dir}/go.mod.src"
  fi
  rm -f "${mod_dir}/go.mod.new"
  log "throwaway module ${mod_dir} pins $(grep -c '=>' "${mod_dir}/go.mod") staging modules to ${staging_version}"

  # Without these stamps /version reports v0.0.0-master and kwokctl / kubectl
  # version-skew logic misbehaves. Both packages carry a copy of the info.
  local minor build_date
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  # Use the release's commit time as build date: stable across rebuilds.
  build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "${info}" 2>/dev/null || true)
  build_date="${build_date:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}"
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION}"
    ldflags+=" -X ${pkg}.gitMajor=1"
    ldflags+=" -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitTreeState=clean"
    ldflags+=" -X ${pkg}.buildDate=${build_date}"
  done

  # One binary at a time: linking kube-apiserver alone needs ~2 GB.
  for b in "${missing[@]}"; do
    local tmp="${BIN_DIR}/.${b}.tmp.$$" start
    TMP_FILES+=("${tmp}")
    start=$(date +%s)
    log "building ${b} (k8s.io/kubernetes ${K8S_VERSION})"
    # -mod=mod lets the go command fill go.sum for the throwaway module.
    # notest/grpcnotrace are the tags the upstream release build uses.
    run_go -C "${mod_dir}" build -mod=mod -trimpath -tags=notest,grpcnotrace \
      -ldflags "${ldflags}" -o "${tmp}" "k8s.io/kubernetes/cmd/${b}"
    finish "${b}" "${tmp}" "${start}"
  done
}

# ---------------------------------------------------------------------- etcd
build_etcd() {
  if have etcd; then
    log "etcd ${ETCD_VERSION}: cached"
    return
  fi
  # `go install go.etcd.io/etcd/server/v3@...` is refused because etcd's
  # go.mod has replace lines; requiring it from our own module works, since
  # replaces of a dependency are ignored and the pinned versions exist.
  local mod_dir="${SRC_DIR}/etcd-${ETCD_VERSION}"
  mkdir -p "${mod_dir}"
  if [[ ! -f "${mod_dir}/go.mod" ]]; then
    printf '%s\n' \
      "// Generated by hack/build-cluster-bins.sh: a throwaway module to build etcd." \
      "module upgate.local/etcdbin" "" "go 1.24" "" \
      "require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}" >"${mod_dir}/go.mod"
  fi
  local tmp="${BIN_DIR}/.etcd.tmp.$$" start
  TMP_FILES+=("${tmp}")
  start=$(date +%s)
  log "building etcd (go.etcd.io/etcd/server/v3 ${ETCD_VERSION})"
  run_go -C "${mod_dir}" build -mod=mod -trimpath -ldflags "-s -w" \
    -o "${tmp}" go.etcd.io/etcd/server/v3
  finish etcd "${tmp}" "${start}"
}

# ---------------------------------------------------------------------- kwok
build_kwok() {
  # kwok has no replace lines, so plain `go install pkg@version` works; it
  # has no -o, so install into a private GOBIN and move from there.
  local b
  for b in kwok kwokctl; do
    if have "$b"; then
      log "${b} ${KWOK_VERSION}: cached"
      continue
    fi
    local gobin="${BIN_DIR}/.gobin.${b}.$$" start
    TMP_FILES+=("${gobin}")
    mkdir -p "${gobin}"
    start=$(date +%s)
    log "building ${b} (sigs.k8s.io/kwok ${KWOK_VERSION})"
    # Stamp the kube version kwokctl assumes by default to the one we build,
    # so its generated component flags match our binaries.
    GOBIN="${gobin}" run_go -C "${SRC_DIR}" install -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}" \
      "sigs.k8s.io/kwok/cmd/${b}@${KWOK_VERSION}"
    finish "${b}" "${gobin}/${b}" "${start}"
  done
}

log "cache: ${BIN_DIR}"
build_k8s "${K8S_VERSION}" "${K8S_BINS[@]}"
build_etcd
build_kwok
if [[ -n "${UPGRADE_VERSION}" && "${UPGRADE_VERSION}" != "${K8S_VERSION}" ]]; then
  build_k8s "${UPGRADE_VERSION}" "${UPGRADE_BINS[@]}"
fi

# Record what was built, for humans and for hack/cluster.sh.
printf 'kubernetes=%s\netcd=%s\nkwok=%s\n' "${K8S_VERSION}" "${ETCD_VERSION}" "${KWOK_VERSION}" \
  >"${BIN_DIR}/VERSIONS.tmp.$$"
mv -f "${BIN_DIR}/VERSIONS.tmp.$$" "${BIN_DIR}/VERSIONS"

log "all binaries ready in ${BIN_DIR} (took $(( $(date +%s) - START_ALL ))s)"
