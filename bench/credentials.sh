#!/usr/bin/env bash
# The private credential check (issue #24): what building its buckets costs, what they weigh,
# and what a check costs the server and the client against a k-anonymity range request.
#
# 1. Build: a generated dump of LINES lines (e-mail:password combolist, fictional) through
#    `leakwatch credentials build` on every core: pairs a second, OPRF evaluations, entries a
#    pair, bytes a pair, peak RSS; extrapolated to 16 billion credentials.
# 2. Checks at two bucket densities, on one server: the 10-million-credential shape and the
#    16-billion one (entries a 20-bit bucket = credentials × entries a pair / 2^20, from step
#    1), each in BUCKETS buckets filled with random entries (what a check costs depends only on
#    its bucket's size: `credential_fill`) of a store of its own, laid out as a whole store of
#    that density is (the 16B layout capped at 2^30 entries: 16 groups a bucket), beside 4,096 password ranges of ~1,900 lines (the
#    real corpus's shape). CHECKS checks and three times as many plain range requests, one at a time over
#    one connection (`credential_load`): server CPU a request (/proc/PID/task/*/schedstat), wall
#    time, answer bytes,
#    the client's CPU. The range cache is off, so every range is rendered (its worst case).
#
# Usage: bench/credentials.sh [LINES] [CHECKS] [BUCKETS]   (default 200000 300 64)
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-200000}
checks=${2:-300}
buckets=${3:-64}
root=$(pwd)
work=/tmp/leakwatch-bench-credentials
port=58803
. bench/lib.sh
audit_key
apt_need curl curl python3 python3
cargo build --release --locked -p leakwatch
cargo build --release --locked -p leakwatch-store --example credential_fill
cargo build --release --locked -p leakwatch-client --example credential_load
bin=$root/target/release/leakwatch
fresh_server_work
machine_line

# --- 1. building ---------------------------------------------------------------------------
"$bin" gen dump --count "$lines" --seed 11 >"$work/dump.txt"
/usr/bin/time -f '%M' -o "$work/build.rss" \
  "$bin" credentials build -q --data "$work/build" --oprf-key-file "$work/oprf.key" "$work/dump.txt" >"$work/build.out"
cat "$work/build.out"
read -r pairs evaluations seconds < <(sed -n 's/.* \([0-9]*\) (login, password) pairs.* \([0-9]*\) OPRF evaluations in \([0-9.]*\)s.*/\1 \2 \3/p' "$work/build.out")
read -r entries seg_bytes < <(sed -n 's/.*credential entries: \([0-9]*\) distinct.*segment \([0-9]*\) bytes.*/\1 \2/p' "$work/build.out")
fingerprint=$(sed -n 's/.*a new OPRF key \([0-9a-f]*\) .*/\1/p' "$work/build.out")
rss_kb=$(cat "$work/build.rss")
read -r rate per_entry per_pair entries_per_pair e10m e16b days16b tb16b < <(python3 - "$pairs" "$evaluations" "$seconds" "$entries" "$seg_bytes" <<'PY'
import sys
pairs, evals, secs, entries, seg = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rate = pairs / secs
epp = entries / pairs
print(f"{rate:.0f} {seg/entries:.2f} {seg/pairs:.1f} {epp:.2f} "
      f"{10e6*epp/2**20:.0f} {16e9*epp/2**20:.0f} {16e9/rate/86400:.0f} {16e9*seg/pairs/1e12:.2f}")
PY
)
echo "build: $pairs pairs in ${seconds}s = $rate pairs/s ($evaluations evaluations, $entries_per_pair entries a pair), $per_pair bytes a pair ($per_entry an entry), peak RSS $((rss_kb / 1024)) MiB"
echo "  at 10M credentials: ~$e10m entries a bucket; at 16B: ~$e16b entries a bucket, $days16b days on this machine, ${tb16b} TB of buckets"

# --- 2. checks against ranges ------------------------------------------------------------
"$bin" gen passwords --format sha1 --prefixes 4096 --lines-per-range 1900 --seed 3 --out "$work/hashes.txt"
"$bin" ingest -q --data "$work/serve" "$work/hashes.txt" >/dev/null
rm "$work/hashes.txt"
key=$("$bin" keys create --data "$work/serve" --name bench --rpm 4000000000 --max-rpm 4000000000 --scope credentials 2>/dev/null)
# One store a density, each with one credential segment laid out for the whole store's size
# (as a built and compacted store holds), the same ranges and key beside it.
load() { # name entries-a-bucket -> the JSON line
  rm -rf "$work/serve-$1" && cp -r "$work/serve" "$work/serve-$1"
  "$root/target/release/examples/credential_fill" "$work/serve-$1/store" "$buckets" "$2" "$fingerprint" >&2
  "$bin" serve --data "$work/serve-$1" --oprf-key-file "$work/oprf.key" --range-cache 0 \
    --metrics-listen 127.0.0.1:0 --listen "127.0.0.1:$port" >/dev/null 2>>"$work/serve.log" &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  LEAKWATCH_API_KEY=$key "$root/target/release/examples/credential_load" \
    "http://127.0.0.1:$port" "$server" "$buckets" "$checks" 4096 "$((checks * 3))"
  kill "$server"; wait "$server" 2>/dev/null || true; server=
  rm -rf "$work/serve-$1"
}
at10m=$(load 10m "$e10m")
at16b=$(load 16b "$e16b")
echo "10M shape: $at10m"
echo "16B shape: $at16b"

emit credentials "{\"scenario\":\"credentials\",\"date\":\"$(date -u +%FT%TZ)\",\"lines\":$lines,\"pairs\":$pairs,\"build_seconds\":$seconds,\"pairs_per_second\":$rate,\"evaluations\":$evaluations,\"entries_per_pair\":$entries_per_pair,\"bytes_per_pair\":$per_pair,\"bytes_per_entry\":$per_entry,\"build_peak_rss_kb\":$rss_kb,\"entries_per_bucket_10m\":$e10m,\"entries_per_bucket_16b\":$e16b,\"days_16b\":$days16b,\"tb_16b\":$tb16b,\"check_10m\":$at10m,\"check_16b\":$at16b}"
