#!/usr/bin/env bash
# The range cache's memory at a budget a deployment would set (issue #20's serving-memory
# target: anonymous RSS ≤ the cache budget + 64 MB under the whole load). range_shape.sh gives
# its cache 1.25% of its corpus, a few MiB, where the target cannot be missed; here the corpus's
# rendered answers are several times BUDGET, so the cache fills and churns. Plain and gzip load
# take turns (uniform over the populated prefixes, wrk, 64 connections), because a change in
# the mix of answer sizes is what leaves the heap holes (BENCHMARKS, #20, 2026-12-08). After
# each turn: the server's anonymous RSS and the cache's weighed bytes (/metrics). The server
# serves from its store only (no answer tier: with a tier the cache is not used). Not a test.
#
# Usage: bench/range_cache_memory.sh PREFIXESxLINES BUDGET [SECONDS]
#        e.g. 65536x950 1G 10 (run.sh large), 4096x950 64M 5 (small). BUDGET as `serve
#        --range-cache` takes it.
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:?usage: bench/range_cache_memory.sh PREFIXESxLINES BUDGET [SECONDS]}
budget=${2:?usage: bench/range_cache_memory.sh PREFIXESxLINES BUDGET [SECONDS]}
secs=${3:-10}
prefixes=${shape%x*}
lines=${shape#*x}
root=$(pwd)
work=/tmp/leakwatch-bench-cache-memory
port=58840

. bench/lib.sh
audit_key
apt_need wrk wrk curl curl python3 python3
cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work" bench/results
server=""
trap 'stop_and_wait "$server"; rm -rf "$work"' EXIT
machine_line

"$bin" gen passwords --format sha1 --prefixes "$prefixes" --lines-per-range "$lines" --seed 3 --out "$work/hashes.txt"
"$bin" ingest -q --data "$work/data" "$work/hashes.txt" >/dev/null
rm "$work/hashes.txt"

# The populated prefixes, as `leakwatch gen` spaces them: prefix i is ceil(i · 2^20 / N).
python3 - "$work" "$prefixes" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
names = ",".join(repr("%05X" % -(-(i << 20) // n)) for i in range(n))
for variant, header in (("plain", ""), ("gzip", '["Accept-Encoding"] = "gzip"')):
    with open(f"{work}/{variant}.lua", "w") as f:
        f.write(f"wrk.headers = {{ {header} }}\nlocal p = {{{names}}}\n")
        f.write("request = function()\n  return wrk.format('GET', '/range/' .. p[math.random(#p)])\nend\n")
PY

"$bin" serve --range-cache "$budget" --metrics-listen "127.0.0.1:$((port + 1))" --data "$work/data" \
  --listen "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
metric() { curl -fs "http://127.0.0.1:$((port + 1))/metrics" | awk -v k="$1" '$1 == k { printf "%d", $2 }'; }
# The last prefix of the list is where a wrong spacing would show (the first is 00000 either way).
last=$(printf '%05X' $(( ((prefixes - 1) * 1048576 + prefixes - 1) / prefixes )))
[ "$(curl -fs "http://127.0.0.1:$port/range/$last" | wc -l)" -gt $((lines / 2)) ] ||
  { echo "range $last is not populated: the prefix list is wrong" >&2; exit 1; }

turns=()
max_anon=0
for variant in plain gzip plain gzip; do
  wrk -t2 -c64 -d"${secs}s" -s "$work/$variant.lua" "http://127.0.0.1:$port" >"$work/wrk.txt"
  if grep -q 'Non-2xx' "$work/wrk.txt"; then echo "$variant: non-2xx answers" >&2; cat "$work/wrk.txt" >&2; exit 1; fi
  rate=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.txt")
  anon=$(awk '/RssAnon/ { print $2 }' "/proc/$server/status")
  held=$(metric leakwatch_range_cache_bytes)
  [ "$anon" -gt "$max_anon" ] && max_anon=$anon
  echo "$variant: $rate req/s, anonymous RSS $((anon / 1024)) MB, cache $((held >> 20)) MiB"
  turns+=("$(printf '{"variant":"%s","req_per_s":%s,"anon_kb":%s,"cache_bytes":%s}' "$variant" "$rate" "$anon" "$held")")
done
budget_bytes=$(metric leakwatch_range_cache_budget_bytes)
echo "largest anonymous RSS $((max_anon / 1024)) MB against budget $((budget_bytes >> 20)) MiB + 64 MiB"
emit range-cache-memory "$(printf '{"scenario":"range-cache-memory","date":"%s","shape":"%s","seconds":%s,"budget_bytes":%s,"max_anon_kb":%s,"turns":[%s]}' \
  "$(date -u +%FT%TZ)" "$shape" "$secs" "$budget_bytes" "$max_anon" "$(IFS=,; echo "${turns[*]}")")"
