#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target for FUZZ_SECONDS (default 30) each, one at a time,
# from corpora seeded from testdata/. Fails on the first crash and leaves the input under
# fuzz/artifacts/<target>/ (turn it into a regression test: docs/testing.md, "Fuzzing").
#
#   .ci/fuzz-smoke.sh                  # every target, 30 s each
#   FUZZ_SECONDS=600 .ci/fuzz-smoke.sh record clef
#
# Needs the nightly toolchain (cargo-fuzz builds with sanitizer flags nightly has); installs
# cargo-fuzz from crates.io if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
seconds=${FUZZ_SECONDS:-30}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(record segment_scan crafted_records event_body clef options checkpoint note proof wal_ops)
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz-smoke: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

fuzz/seed-corpora.sh
cargo +nightly fuzz build
for t in "${targets[@]}"; do
  printf '\n=== fuzz %s for %s s (%s)\n' "$t" "$seconds" "$(date -u +%H:%M:%S)"
  extra=()
  if [ -f "fuzz/dicts/$t.dict" ]; then
    extra+=("-dict=fuzz/dicts/$t.dict")
  fi
  # -timeout: one input taking longer than 10 s is a hang, and a finding. The full libFuzzer
  # output goes to fuzz/artifacts/<target>.log; its tail is printed.
  mkdir -p fuzz/artifacts
  log="fuzz/artifacts/$t.log"
  set +e
  cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    "${extra[@]}" >"$log" 2>&1
  status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    tail -n 80 "$log"
    echo "fuzz-smoke: $t failed; the input is in fuzz/artifacts/$t/" >&2
    exit "$status"
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -n 5 "$log"
done
echo "fuzz-smoke: ${#targets[@]} targets, $seconds s each, no crash"
