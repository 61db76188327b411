#!/usr/bin/env bash
# Scale: HASHES SHA-1 hashes streamed from `leakwatch gen` into `leakwatch ingest -` (the
# input is never stored: at a billion it would be 43 GB), then the store served and
# queried. Reports total time and rate, the generator alone (the floor of a streamed
# ingest), bytes per hash against the floor, ingest peak RSS against its budget, range
# API rate and p50/p99 (wrk, uniformly random prefixes), in-process lookup p50/p99, and the
# server's resident memory: anonymous (what the process allocates: with the range cache's
# bytes and budget, and again on a server without the cache after the same load) and
# file-backed (mapped store pages the kernel may drop).
# Not a test: numbers go to bench/results/ (and $BENCH_JSON when bench/run.sh runs it).
#
# Usage: bench/scale.sh HASHES [SECONDS]     (SCALE_DIR= to put the store elsewhere)
# Disk: about 45 bytes per hash while ingesting (spill + store), 18 after.
set -euo pipefail
cd "$(dirname "$0")/.."
hashes=${1:?usage: bench/scale.sh HASHES [SECONDS]}
secs=${2:-10}
mem=${MEMORY:-2G}
root=$(pwd)
work=${SCALE_DIR:-$root/bench/work-scale}
port=58802
. bench/lib.sh
audit_key
apt_need wrk wrk /usr/bin/time time bc bc curl curl
cargo build --release -p leakwatch --locked
cargo build --release -p leakwatch-ingest --example check_latency --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work"
free_kb=$(df -k --output=avail "$work" | tail -1)
need_kb=$((hashes * 45 / 1024))
if [ "$free_kb" -lt "$need_kb" ]; then
  echo "bench/scale.sh: $hashes hashes need about $((need_kb / 1048576)) GiB free in $work, there are $((free_kb / 1048576))" >&2
  exit 1
fi
cleanup() {
  stop_and_wait "${server:-}"
  rm -rf "$work"
}
trap cleanup EXIT
machine_line

# The generator alone (its output thrown away) bounds a streamed ingest from below. Above
# 100M it is timed on 100M and scaled.
gen_n=$((hashes < 100000000 ? hashes : 100000000))
t0=$(date +%s.%N)
"$bin" gen passwords --format sha1 --count "$gen_n" --seed 11 >/dev/null
t1=$(date +%s.%N)
gen_s=$(echo "($t1 - $t0) * $hashes / $gen_n" | bc -l)

t0=$(date +%s.%N)
"$bin" gen passwords --format sha1 --count "$hashes" --seed 11 |
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" ingest -q --memory "$mem" --data "$work/data" - >"$work/ingest.txt"
t1=$(date +%s.%N)
total_s=$(echo "$t1 - $t0" | bc -l)
read -r _ ingest_rss_kb <"$work/time.txt"
deep=$("$bin" stats --deep --data "$work/data" | grep 'bytes_per_hash=' | head -1)
bph=$(sed -E 's/.* bytes_per_hash=([0-9.]+).*/\1/' <<<"$deep")
fph=$(sed -E 's/.*floor_bytes_per_hash=([0-9.]+).*/\1/' <<<"$deep")
to_floor=$(sed -E 's/.*ratio_to_floor=([0-9.]+).*/\1/' <<<"$deep")
store_bytes=$(du -sb "$work/data/store" | cut -f1)

# Lookups: the first 100,000 hashes of the same stream (uniform over the key space), found.
"$bin" gen passwords --format sha1 --count 100000 --seed 11 | cut -c1-40 >"$work/queries.txt"
lookup=$("$root/target/release/examples/check_latency" "$work/data/store" "$work/queries.txt" 1000000)
[ "$(kv found "$lookup")" = 100000 ] || { echo "lookups missed stored hashes: $lookup" >&2; exit 1; }

serve_bg() { # extra serve flags -> $server, once it answers
  "$bin" serve "$@" --metrics-listen "127.0.0.1:$((port + 1))" --data "$work/data" --listen "127.0.0.1:$port" 2>>"$work/serve.log" &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
}
serve_bg
rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$server/status"; }
anon_start_kb=$(rss RssAnon)
random_ranges_lua "$work/range.lua"
wrk -t2 -c16 -d"${secs}s" --latency -s "$work/range.lua" "http://127.0.0.1:$port" >/dev/null # warm
wrk -t2 -c16 -d"${secs}s" --latency -s "$work/range.lua" "http://127.0.0.1:$port" >"$work/wrk.txt"
read -r range_rate range_p50 range_p99 < <(python3 bench/wrk_stats.py "$work/wrk.txt")
anon_kb=$(rss RssAnon)
file_kb=$(rss RssFile)
# The range cache is anonymous memory within the budget the server is given (`--range-cache`,
# 256M by default): full at the 1B corpus's ~950-line answers, nearly empty at 10M's. So its
# bytes are recorded, and memory independent of corpus size is measured after the same load
# on a server without it (`--range-cache 0`).
metric() { curl -fs "http://127.0.0.1:$((port + 1))/metrics" | awk -v k="$1" '$1 == k { printf "%d", $2 }'; }
cache_bytes=$(metric leakwatch_range_cache_bytes)
cache_budget=$(metric leakwatch_range_cache_budget_bytes)
lines_per_range=$(curl -fs "http://127.0.0.1:$port/range/5BAA6" | wc -l)
stop_and_wait "$server"
serve_bg --range-cache 0
wrk -t2 -c16 -d"${secs}s" -s "$work/range.lua" "http://127.0.0.1:$port" >/dev/null
anon_uncached_kb=$(rss RssAnon)

printf '\n%s hashes streamed (gen | ingest -), budget %s\n' "$hashes" "$mem"
printf '| hashes | total | lines/s | generator alone | B/hash (floor) | store | ingest peak RSS | range req/s (p50 / p99 ms) | lookup p50 / p99 µs | server RSS anon (start → after load) / file |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
printf '| %s | %.0f s | %.0f | %.0f s | %s (%s, %s×) | %.2f GB | %.0f MB | %.0f (%.3f / %.3f) | %s / %s | %.0f → %.0f MB / %.0f MB |\n' \
  "$hashes" "$total_s" "$(echo "$hashes / $total_s" | bc -l)" "$gen_s" "$bph" "$fph" "$to_floor" \
  "$(echo "$store_bytes / 1000000000" | bc -l)" "$(echo "$ingest_rss_kb / 1024" | bc -l)" \
  "$range_rate" "$range_p50" "$range_p99" "$(kv hot_p50_us "$lookup")" "$(kv hot_p99_us "$lookup")" \
  "$(echo "$anon_start_kb / 1024" | bc -l)" "$(echo "$anon_kb / 1024" | bc -l)" "$(echo "$file_kb / 1024" | bc -l)"
emit scale "$(printf '{"scenario":"scale","date":"%s","hashes":%s,"memory_budget":"%s","total_s":%.1f,"generator_s":%.1f,"ingest_peak_rss_kb":%s,"bytes_per_hash":%s,"floor_bytes_per_hash":%s,"ratio_to_floor":%s,"store_bytes":%s,"range":{"req_per_s":%s,"p50_ms":%s,"p99_ms":%s,"lines_in_5BAA6":%s},"lookup":{"hot_us":%s,"p50_us":%s,"p99_us":%s,"first_pass_us":%s},"server_rss_kb":{"anon_start":%s,"anon_after_load":%s,"file_after_load":%s,"anon_after_load_cache_off":%s},"range_cache":{"bytes":%s,"budget_bytes":%s}}' \
  "$(date -u +%FT%TZ)" "$hashes" "$mem" "$total_s" "$gen_s" "$ingest_rss_kb" "$bph" "$fph" "$to_floor" "$store_bytes" \
  "$range_rate" "$range_p50" "$range_p99" "$lines_per_range" \
  "$(kv hot_us "$lookup")" "$(kv hot_p50_us "$lookup")" "$(kv hot_p99_us "$lookup")" "$(kv first_pass_us "$lookup")" \
  "$anon_start_kb" "$anon_kb" "$file_kb" "$anon_uncached_kb" "$cache_bytes" "$cache_budget")"
