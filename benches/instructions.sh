#!/usr/bin/env bash
# Instructions per call of each scenario, under callgrind (exact and repeatable).
# Usage: bash benches/instructions.sh [group]   (group: auth; default all)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install -y valgrind" >&2; exit 1; }
cargo build --release -q -p tower-claude-benches --bin instructions
bin="${CARGO_TARGET_DIR:-target}/release/instructions"
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
low=2000 high=4000
printf '%-22s %12s %12s\n' scenario per-call extra
base=""
for scenario in baseline tower-http-bearer ours-plaintext ours-bcrypt-cached ours-public-path; do
  a=$(count "$scenario" $low); b=$(count "$scenario" $high)
  per=$(( (b - a) / (high - low) ))
  [ -z "$base" ] && base=$per
  printf '%-22s %12d %+12d\n' "$scenario" "$per" $(( per - base ))
done
