#!/usr/bin/env bash
# Benchmarks at Kubernetes' published limits (`make bench`): synthetic
# clusters (package synth) of 500 and 5,000 nodes with 30 pods per node
# (15,000 and 150,000 pods): first the whole check against the
# encoding/json floor (issue 14), then each phase apart as Go benchmarks,
# then whole `upgate check` runs with their wall time and peak memory.
#
#   0. check vs floor (BenchmarkCheckVsFloor, cli): for a compact dump
#      (small objects, 500 and 5,000 nodes) and a real-shaped one
#      (managedFields, as an API server sends it; 1,000 nodes), in one
#      process and one run, the whole `upgate check` next to plain
#      encoding/json decoding of the same file into maps; a table of
#      seconds, ratios and peak memory, and the growth from 500 to 5,000
#      nodes. Three floor-and-check pairs per file (FLOOR_REPS): about
#      3 minutes warm on 2 busy cores (the 5,000-node compact check and
#      its floor take 13-20 s each), plus under a minute to generate the
#      dumps the first time. The whole of `make bench` takes about 8-10
#      minutes warm;
#   1. generate the clusters once into the cache (reused across runs);
#   2. go test -bench: reading (inventory.Read, against plain encoding/json
#      decoding of the same file), writing a snapshot, building the policy
#      input, the Rego evaluation alone (per topic) and Engine.Evaluate;
#   3. /usr/bin/time -v of `upgate check --from FILE --target v1.36
#      --format json` per size: wall clock and maximum resident set size.
#
# Environment:
#   UPGATE_CACHE                 cache root (default $HOME/.cache/upgate)
#   UPGATE_BENCH_DIR             generated clusters (default $UPGATE_CACHE/bench)
#   UPGATE_BENCH_NODES           node counts, comma-separated (default 500,5000)
#   UPGATE_BENCH_MANIFEST_NODES  node counts to read kubectl List manifests
#                                at (default 500: 5,000 nodes of manifests
#                                is a 2.8 GB file the reader must hold)
#   UPGATE_BENCH_REAL_NODES      node counts of the real-shaped dump in the
#                                check-vs-floor table (default 1000: at
#                                5,000 nodes it is ~1.5 GB, and its floor
#                                alone takes several GB)
#   BENCH_PARTS                  which parts to run, comma-separated, of
#                                floor (0), phases (2) and runs (3)
#                                (default all three)
#   BENCHTIME                    go test -benchtime (default 1x)
#   FLOOR_REPS                   floor-and-check pairs per file in the
#                                check-vs-floor table (default 3: one
#                                pair's ratio varies 0.6-1.2x at load 3-4)
#   BENCH_FILTER                 extra go test -bench regexp for both packages
#
# The machine's load is printed beside every figure: on a shared machine
# timings are only comparable at similar load. Results also go to
# $UPGATE_BENCH_DIR/results-<time>.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE="${UPGATE_CACHE:-$HOME/.cache/upgate}"
export UPGATE_BENCH_DIR="${UPGATE_BENCH_DIR:-${CACHE}/bench}"
export UPGATE_BENCH_NODES="${UPGATE_BENCH_NODES:-500,5000}"
export UPGATE_BENCH_MANIFEST_NODES="${UPGATE_BENCH_MANIFEST_NODES:-500}"
export UPGATE_BENCH_REAL_NODES="${UPGATE_BENCH_REAL_NODES:-1000}"
BENCHTIME="${BENCHTIME:-1x}"
BENCH_PARTS="${BENCH_PARTS:-floor,phases,runs}"
FLOOR_REPS="${FLOOR_REPS:-3}"
part() { [[ ",${BENCH_PARTS}," == *",$1,"* ]]; }
sizes() { tr ',' ' ' <<<"$1"; }
TARGET=v1.36
mkdir -p "${UPGATE_BENCH_DIR}"
RESULTS="${UPGATE_BENCH_DIR}/results-$(date -u +%Y%m%dT%H%M%SZ).txt"

log() { printf '[bench] %s\n' "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
say() { printf '%s\n' "$*" | tee -a "${RESULTS}"; }

if [[ ! -x /usr/bin/time ]]; then
  log "installing GNU time (/usr/bin/time -v measures peak memory)"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
  else
    sudo apt-get install -y -qq time >/dev/null
  fi
fi

say "# upgate benchmarks $(date -u +%FT%TZ), $(nproc) CPUs, $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')"
say "# nodes: ${UPGATE_BENCH_NODES} (manifests: ${UPGATE_BENCH_MANIFEST_NODES}), 30 pods per node, load (1/5/15 min) at start: $(load)"

# 0. The whole check against the encoding/json floor of the same file.
if part floor; then
  for n in $(sizes "${UPGATE_BENCH_NODES}"); do
    log "compact dump of ${n} nodes"
    go run ./hack/gencluster -nodes "${n}" -format compact -cached "${UPGATE_BENCH_DIR}" >/dev/null
  done
  for n in $(sizes "${UPGATE_BENCH_REAL_NODES}"); do
    log "real-shaped dump of ${n} nodes"
    go run ./hack/gencluster -nodes "${n}" -format apiserver -managed-fields -cached "${UPGATE_BENCH_DIR}" >/dev/null
  done
  say ""
  say "## the whole check vs the encoding/json floor (go test -bench CheckVsFloor ./cli/; load before: $(load))"
  say "#  check: upgate check --from FILE --target ${TARGET} --format json in-process (read, evaluate, report to io.Discard)"
  say "#  floor: encoding/json decoding of the same file into any (maps); ${FLOOR_REPS} of each, interleaved: floor, check, floor, ..."
  say "#  check-s, floor-s: the fastest; ratio: median of each iteration's check s / floor s (goal <= 1.0), range: lowest-highest"
  say "#  us/o: microseconds per object of the file; MB: the process's peak RSS during that phase (VmHWM); heap: peak of the heap's objects"
  say "#  the real-shaped dump is run at ${UPGATE_BENCH_REAL_NODES} nodes only (UPGATE_BENCH_REAL_NODES): at 5,000 nodes it is ~1.5 GB"
  out=$(UPGATE_BENCH_FLOOR_REPS="${FLOOR_REPS}" go test -run '^$' -bench CheckVsFloor -benchtime 1x -timeout 60m ./cli/ 2>&1) || { printf '%s\n' "${out}" >&2; exit 1; }
  {
    fmtr='%-24s %5s %8s %6s %8s %8s %6s %10s %8s %8s %9s %9s %9s %9s  %s\n'
    # shellcheck disable=SC2059
    printf "${fmtr}" file MB objects B/obj check-s floor-s ratio range chk-us/o flr-us/o check-MB floor-MB chk-heap flr-heap "load (1/5/15)"
    grep '^checkfloor|' <<<"${out}" | while IFS='|' read -r _ f mb obj bpo cs fs r rr cu fu cp fp ch fh ld; do
      # shellcheck disable=SC2059
      printf "${fmtr}" "${f}" "${mb}" "${obj}" "${bpo}" "${cs}" "${fs}" "${r}" "${rr}" "${cu}" "${fu}" "${cp}" "${fp}" "${ch}" "${fh}" "${ld}"
    done
    grep '^checkfloor-growth|' <<<"${out}" | tr '|' ' ' | sed 's/^checkfloor-growth /growth: /'
  } | tee -a "${RESULTS}"
  say "#   load after: $(load)"
fi
if ! part phases && ! part runs; then
  say ""
  say "# results: ${RESULTS}"
  exit 0
fi

# 1. The clusters, generated once.
declare -A SNAPSHOT
for n in $(sizes "${UPGATE_BENCH_NODES}"); do
  log "cluster of ${n} nodes (snapshot)"
  SNAPSHOT[$n]=$(go run ./hack/gencluster -nodes "${n}" -format snapshot -cached "${UPGATE_BENCH_DIR}")
done
declare -A MANIFESTS
for n in $(sizes "${UPGATE_BENCH_MANIFEST_NODES}"); do
  log "cluster of ${n} nodes (manifests)"
  MANIFESTS[$n]=$(go run ./hack/gencluster -nodes "${n}" -format manifests -cached "${UPGATE_BENCH_DIR}")
done
say "# files:"
for f in "${SNAPSHOT[@]}" "${MANIFESTS[@]}"; do
  say "#   $(du -m "$f" | cut -f1) MB  $f"
done

# 2. Phases, as Go benchmarks (ns/op is one whole phase; pods/s; B/op and
#    allocs/op are what the phase allocates; live-MB what Read's result holds).
bench() {
  local pkg=$1 re=$2
  say ""
  say "## go test -bench '${re}' ${pkg}   (load before: $(load))"
  go test -run '^$' -bench "${re}" -benchmem -benchtime "${BENCHTIME}" -timeout 60m "${pkg}" 2>&1 |
    grep -E '^(Benchmark|ok|FAIL|---|panic)|Error|error' | tee -a "${RESULTS}"
  say "#   load after: $(load)"
}
if part phases; then
  bench ./inventory/ "ReadScale|JSONFloorScale|SnapshotScale${BENCH_FILTER:+|${BENCH_FILTER}}"
  bench ./policies/ "ScaleBuildInput|ScaleRego|ScaleEvaluate|ScaleNodeGate${BENCH_FILTER:+|${BENCH_FILTER}}"
  # upgate run's cost per node: state from the watched informers (client-go's
  # fake clientset serves them), the node's gate and validation; and upgate
  # serve's steady state on the same informers: one check, and the heap it
  # keeps (MB-serve; MB-fake is the fake clientset's own copy).
  bench ./cli/ "ScaleRunNodeGate|ServeSteadyState${BENCH_FILTER:+|${BENCH_FILTER}}"
fi

# 3. Whole runs: the binary as users run it, wall clock and peak RSS.
BIN=$(mktemp -d)/upgate
trap 'rm -rf "$(dirname "${BIN}")"' EXIT
go build -trimpath -o "${BIN}" ./cmd/upgate
run_check() {
  local label=$1 file=$2 out rc
  out=$(mktemp)
  set +e
  /usr/bin/time -v "${BIN}" check --from "${file}" --target "${TARGET}" --format json >/dev/null 2>"${out}"
  rc=$?
  set -e
  if [[ ${rc} -gt 1 ]]; then
    log "upgate check on ${file} exited ${rc}:"
    tail -5 "${out}" >&2
    rm -f "${out}"
    return 1
  fi
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "${out}")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "${out}")
  say "$(printf '%-34s wall %8s  max RSS %6d MB  exit %d  load %s' "${label}" "${wall}" "$((rss / 1024))" "${rc}" "$(load)")"
  rm -f "${out}"
}
if part runs; then
  say ""
  say "## upgate check --from FILE --target ${TARGET} --format json (/usr/bin/time -v)"
  for n in $(sizes "${UPGATE_BENCH_NODES}"); do
    run_check "snapshot, ${n} nodes" "${SNAPSHOT[$n]}"
  done
  for n in $(sizes "${UPGATE_BENCH_MANIFEST_NODES}"); do
    run_check "manifests (kubectl List), ${n} nodes" "${MANIFESTS[$n]}"
  done
fi
say ""
say "# results: ${RESULTS}"
