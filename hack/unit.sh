#!/usr/bin/env bash
# make unit: go test ./... (the Rego tests run inside it), with the
# independent CLIs (cosign, opa, helm, promtool) and the local cluster's
# etcd when this machine has built them.
#
# Building those from source is most of a fresh machine's first test run
# (cosign, helm and opa alone take longer than every test here), so they
# are built by `make tools` and `make cluster-bins`, once, into the cache,
# and not by make test. When one is missing, the checks that need it are
# skipped, never passed: each skip is named on the terminal at the end,
# with the command that builds what it needs. .ci/run builds everything
# first and sets UPGATE_REQUIRE_TOOLS=1, so there a missing tool fails.
#
# Environment: UPGATE_CACHE (default ~/.cache/upgate), UPGATE_TOOLS (default
# $UPGATE_CACHE/tools), UPGATE_REQUIRE_TOOLS=1 (fail instead of skipping),
# GO (default go).
set -uo pipefail
cd "$(dirname "$0")/.."

cache="${UPGATE_CACHE:-$HOME/.cache/upgate}"
tools="${UPGATE_TOOLS:-${cache}/tools}"
go="${GO:-go}"

missing=()
for t in cosign opa helm promtool; do
	[[ -x "${tools}/${t}" ]] || missing+=("${t} (make tools)")
done
compgen -G "${cache}/bin/*/etcd" >/dev/null || [[ -n "${UPGATE_ETCD_BIN:-}" ]] || missing+=("etcd (make cluster-bins)")

skipped="$(mktemp)"
trap 'rm -f "${skipped}"' EXIT
if ((${#missing[@]})); then
	if [[ "${UPGATE_REQUIRE_TOOLS:-}" == 1 ]]; then
		printf 'make test: UPGATE_REQUIRE_TOOLS=1 but not built: %s\n' "${missing[*]}" >&2
		exit 1
	fi
	printf 'make test: not built here: %s.\n' "$(IFS=,; echo "${missing[*]}" | sed 's/,/, /g')"
	printf '  The checks that need them are SKIPPED and listed at the end.\n'
	export UPGATE_MISSING_TOOLS=skip
fi
export UPGATE_SKIPPED_LOG="${skipped}"
PATH="${tools}:${PATH}" "${go}" test -count=1 ./...
rc=$?
if [[ -s "${skipped}" ]]; then
	n="$(sort -u "${skipped}" | wc -l)"
	printf '\n==== SKIPPED: %d checks did not run, for want of a tool this machine has not built ====\n' "${n}"
	sort -u "${skipped}" | sed 's/^/  /'
	printf '==== make tools (cosign, opa, helm, promtool: once, cached) and make cluster-bins (etcd) build them; .ci/run runs every check ====\n'
fi
# The fuzz targets' corpora ran above as tests; fuzzing itself is not part
# of make test (see the Makefile), and says so.
printf 'make test: not run here: make fuzz (a short fuzz run of each fuzz target; .ci/run runs it)\n'
exit "${rc}"
