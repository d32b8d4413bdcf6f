#!/usr/bin/env bash
# Instructions per call of each benchmark scenario, under callgrind (exact and
# repeatable). Usage: bash benches/instructions.sh [auth|headers|ratelimit|stack|metrics]
# (default: all). The `metrics` group runs our scenarios built without and with
# the layers' `metrics` feature (recording into metrics-exporter-prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install -y valgrind" >&2; exit 1; }
release="${CARGO_TARGET_DIR:-target}/release"
build() { # build <copy-name> [cargo args]: the instructions binary, kept under a name of its own
  local name=$1; shift
  cargo build --release -q -p tower-claude-benches --bin instructions "$@"
  cp "$release/instructions" "$release/$name"
}
build instructions-plain
bin="$release/instructions-plain"
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
scenarios() {
  "$bin" 2>&1 | sed -n "s/^  $1: \[\(.*\)\]$/\1/p" | tr -d '",'
}
# Layers that read a quanta clock (both governor crates and ours) calibrate it
# once at start-up, in a loop bounded by time, not by count: that adds a few
# million instructions that vary from run to run. The ratelimit group therefore
# runs more iterations, so that noise falls under a few instructions per call.
iterations() {
  case $1 in
    # The metrics group's recorder (metrics-exporter-prometheus) reads a
    # quanta clock too, whatever the scenario.
    ratelimit | stack | metrics:*) low=${LOW:-20000} high=${HIGH:-220000} ;;
    *) low=${LOW:-2000} high=${HIGH:-4000} ;;
  esac
}
per_call() { # per_call [<iterations class>] <group> <scenario>
  if [ $# -eq 3 ]; then iterations "$1"; shift; else iterations "$1"; fi
  local a b
  a=$(count "$1" "$2" "$low"); b=$(count "$1" "$2" "$high")
  echo $(( (b - a) / (high - low) ))
}
for group in ${1:-auth headers ratelimit stack metrics}; do
  if [ "$group" = metrics ]; then
    build instructions-metrics --features metrics
    printf '\n%-30s %10s %10s %10s\n' "metrics" off on extra
    for pair in "auth ours-plaintext" "auth ours-public-path" "ratelimit ours" "stack ours"; do
      set -- $pair
      bin="$release/instructions-plain"; off=$(per_call "metrics:$1" "$1" "$2")
      bin="$release/instructions-metrics"; on=$(per_call "metrics:$1" "$1" "$2")
      printf '%-30s %10d %10d %+10d\n' "$1/$2" "$off" "$on" $(( on - off ))
    done
    bin="$release/instructions-plain"
    continue
  fi
  printf '\n%-30s %10s %10s\n' "$group" per-call extra
  base=""
  for scenario in $(scenarios "$group"); do
    per=$(per_call "$group" "$scenario")
    [ -z "$base" ] && base=$per
    printf '%-30s %10d %+10d\n' "$scenario" "$per" $(( per - base ))
  done
done
