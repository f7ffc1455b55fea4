#!/usr/bin/env bash
# The main job on a local simulated cluster: start a real control plane with
# kwok nodes (built and cached on first use), seed upgrade hazards, then let
# upgate check it live, write a snapshot and show the plan.
# `make demo-down` (hack/cluster.sh down) stops the cluster.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UPGATE="${ROOT}/bin/upgate"
OUT="${ROOT}/_out"
TARGET="${UPGATE_DEMO_TARGET:-v1.37}"

[ -x "${UPGATE}" ] || { echo "demo: ${UPGATE} is missing: run make build" >&2; exit 2; }
mkdir -p "${OUT}"

# The first run builds the control plane from the Go module proxy (10-30
# minutes on 2 cores): show its progress; later runs find it cached.
"${ROOT}/hack/build-cluster-bins.sh"
echo "Starting the local cluster (log: _out/cluster.log)..."
fail() { echo "demo: $1 failed; the last lines of ${OUT}/cluster.log:" >&2; tail -n 20 "${OUT}/cluster.log" >&2; exit 3; }
KUBECONFIG=$("${ROOT}/hack/cluster.sh" up 2>"${OUT}/cluster.log" | tail -n 1) || fail "hack/cluster.sh up"
export KUBECONFIG
"${ROOT}/hack/cluster.sh" seed-hazards >>"${OUT}/cluster.log" 2>&1 || fail "hack/cluster.sh seed-hazards"

banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

banner "upgate check --target ${TARGET}   (live, against the local cluster)"
set +e
"${UPGATE}" check --target "${TARGET}"
code=$?
set -e
echo "exit code: ${code} (0 passed, 1 blocked, 2 bad input, 3 cluster failure)"

banner "upgate snapshot -o _out/snapshot.json"
"${UPGATE}" snapshot -o "${OUT}/snapshot.json"
ls -l "${OUT}/snapshot.json"

banner "upgate plan --target ${TARGET} --from _out/snapshot.json"
"${UPGATE}" plan --target "${TARGET}" --from "${OUT}/snapshot.json" || true

banner "upgate check --format json --output _out/report.json"
"${UPGATE}" check --target "${TARGET}" --from "${OUT}/snapshot.json" --format json --output "${OUT}/report.json" || true
echo "report: ${OUT}/report.json"

cat <<MSG

The cluster is still running:
  export KUBECONFIG=${KUBECONFIG}
  ${UPGATE} check --target ${TARGET}
Stop it with: make demo-down
MSG
