#!/usr/bin/env bash
# A bounded run of every fuzz target (cargo-fuzz, libFuzzer, no sanitizer: works on stable
# Rust), SECONDS each (default 20), one a core at a time, starting from the committed seeds in fuzz/seeds/TARGET;
# what the fuzzer learns goes to fuzz/corpus/ (not committed). A crash fails the run and
# leaves its input in fuzz/artifacts/TARGET: turn it into a regression test named after it,
# and copy it into fuzz/seeds/TARGET. A fixed seed (-seed=1) makes a run reproducible: a
# machine that runs longer explores further along the same sequence.
#
# PROFILE (second argument) is `dev` (default) or `release`. `dev` is CI's: the leakwatch
# parsers and the libraries they spend their time in (see fuzz/Cargo.toml's profile.dev) are
# optimised, the rest of the tree is not, and it builds in ~7 min on 2 cores; `release`
# optimises everything in one codegen unit (~15 min) and runs ~10-30x more inputs a second:
# use it for a long hunt (`fuzz/run.sh 3600 release`).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-20}
case "${2:-dev}" in
  dev) profile=--dev ;;
  release) profile=--release ;;
  *) echo "usage: fuzz/run.sh [SECONDS] [dev|release]" >&2; exit 2 ;;
esac
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo fuzz build --sanitizer none "$profile"
# Each fuzzer runs on one core: run as many at once as there are cores (two on CI), each
# with its own log, printed when it ends.
jobs=$(nproc 2>/dev/null || echo 2)
logs=$(mktemp -d)
fuzz_one() {
  local target=$1
  mkdir -p "corpus/$target"
  # -timeout=30: a target's first input pays one-time set-up (the phone-number metadata:
  # 2-3 s on 2 idle cores, over 10 s on a loaded or slower machine); a hang still fails.
  cargo fuzz run --sanitizer none "$profile" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -seed=1 -rss_limit_mb=2048 -timeout=30 >"$logs/$target" 2>&1 || true
}
targets=$(cargo fuzz list)
running=0
for target in $targets; do
  fuzz_one "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
failed=0
for target in $targets; do
  echo "== fuzz $target (${secs} s)"
  grep -E "^Done|ERROR|panicked|SUMMARY" "$logs/$target" || true
  if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
    echo "fuzz target $target crashed: see fuzz/artifacts/$target" >&2
    failed=1
  fi
done
rm -rf "$logs"
exit "$failed"
