#!/usr/bin/env bash
# A short fuzzing smoke run of every target (CI): builds the targets with
# cargo-fuzz on the nightly toolchain (installing cargo-fuzz from crates.io
# when missing), then runs each for a few seconds from its committed corpus.
# New inputs go to a scratch folder; a crash fails the run and leaves its input
# under $ARTIFACTS. Long runs: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_EACH="${FUZZ_SECONDS:-5}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/tower-claude-fuzz-target}"
ARTIFACTS="${FUZZ_ARTIFACTS:-$(mktemp -d)}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "the nightly toolchain is missing: 'rustup toolchain install nightly' (cargo-fuzz needs it)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

cargo +nightly fuzz build -O >/dev/null
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
for target in $(cargo +nightly fuzz list); do
  scratch=$(mktemp -d)
  if ! "$bin/$target" "$scratch" "corpus/$target" -max_total_time="$SECONDS_EACH" \
       -artifact_prefix="$ARTIFACTS/$target-" -print_final_stats=1 >"$ARTIFACTS/$target.log" 2>&1; then
    echo "fuzz target $target failed; its log and input are in $ARTIFACTS" >&2
    tail -30 "$ARTIFACTS/$target.log" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$ARTIFACTS/$target.log" | grep -o '[0-9]*$')
  echo "fuzz $target: ${runs:-0} runs in ${SECONDS_EACH} s, no crash"
  rm -rf "$scratch"
done
