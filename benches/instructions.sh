#!/usr/bin/env bash
# Instructions per call of each benchmark scenario, under callgrind (exact and
# repeatable). Usage: bash benches/instructions.sh [auth|headers|ratelimit|stack]  (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install -y valgrind" >&2; exit 1; }
cargo build --release -q -p tower-claude-benches --bin instructions
bin="${CARGO_TARGET_DIR:-target}/release/instructions"
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
low=${LOW:-2000} high=${HIGH:-4000}
for group in ${1:-auth headers ratelimit stack}; do
  if [ "$group" = ratelimit ] || [ "$group" = stack ]; then low=${LOW:-20000} high=${HIGH:-220000}; fi
  printf '\n%-30s %10s %10s\n' "$group" per-call extra
  base=""
  for scenario in $(scenarios "$group"); do
    a=$(count "$group" "$scenario" $low); b=$(count "$group" "$scenario" $high)
    per=$(( (b - a) / (high - low) ))
    [ -z "$base" ] && base=$per
    printf '%-30s %10d %+10d\n' "$scenario" "$per" $(( per - base ))
  done
done
