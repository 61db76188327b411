#!/usr/bin/env bash
# A bounded run of every fuzz target (cargo-fuzz, libFuzzer, no sanitizer: works on stable
# Rust), SECONDS each (default 20), starting from the committed seeds in fuzz/seeds/TARGET;
# what the fuzzer learns goes to fuzz/corpus/ (not committed). A crash fails the run and
# leaves its input in fuzz/artifacts/TARGET: turn it into a regression test named after it,
# and copy it into fuzz/seeds/TARGET. A fixed seed (-seed=1) makes a run reproducible: a
# machine that runs longer explores further along the same sequence.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-20}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo fuzz build --sanitizer none
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  echo "== fuzz $target (${secs} s)"
  cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -seed=1 -rss_limit_mb=2048 -timeout=10 2>&1 | grep -E "^Done|ERROR|panicked|SUMMARY" || true
  if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
    echo "fuzz target $target crashed: see fuzz/artifacts/$target" >&2
    exit 1
  fi
done
