#!/usr/bin/env bash
# Range API throughput and latency: leakwatch's /range/{prefix} against nginx (Debian)
# serving the same ranges as 1,048,576 static files in the official downloader's layout
# (XXXXX.txt, CRLF lines), same client (wrk), same concurrency, uniformly random prefixes,
# page cache warm. Variants: plain, Add-Padding (nginx cannot pad: compared with its plain
# answer), gzip (Accept-Encoding: gzip; nginx `gzip on`). Not a test: numbers go to
# bench/results/.
#
# Every variant runs REPEATS times, servers taking turns, and the median run is reported
# (this machine is shared: single runs wander by a fifth). Server CPU time per request is
# read from /proc around each run: steadier than the rate, and it says who works harder.
#
# Usage: bench/range.sh [HASHES] [SECONDS] [CONNECTIONS] [REPEATS]   (default 10000000 10 16 3)
#        bench/range.sh PREFIXESxLINES [SECONDS] [CONNECTIONS] [REPEATS]: the real shape
#        (e.g. 4096x1900: ranges of the public corpus's size), run by bench/range_shape.sh.
# Disk: the range directory takes about 4 KiB per file (4.1 GB) whatever HASHES is.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in *x*) exec bench/range_shape.sh "$@" ;; esac
hashes=${1:-10000000}
secs=${2:-10}
conns=${3:-16}
repeats=${4:-3}
root=$(pwd)
work=/tmp/leakwatch-bench-range # nginx workers must be able to read it
port=58801
nport=58901

. bench/lib.sh
audit_key
apt_need nginx nginx wrk wrk bc bc curl curl
cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
fresh_server_work
machine_line

# The same generated corpus, as a store and as the downloader's directory.
"$bin" gen passwords --format sha1 --count "$hashes" --seed 3 --out "$work/hashes.txt"
"$bin" ingest -q --data "$work/data" "$work/hashes.txt" >/dev/null
rm "$work/hashes.txt"
"$bin" gen passwords --format sha1 --count "$hashes" --seed 3 --dir --out "$work/ranges"
chmod -R a+rX "$work"
find "$work/ranges" -type f -exec cat {} + >/dev/null # page cache warm for nginx (leakwatch maps its store)

nginx_range_conf "gzip_types text/plain; gzip_min_length 0;" "gzip on;" "" 1100000
nginx -c "$work/nginx.conf" -p "$work"
"$bin" serve --metrics-listen 127.0.0.1:0 --data "$work/data" --listen "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

lua() { # name, extra headers as lua table entries
  cat >"$work/$1.lua" <<EOF
local x = 12345
wrk.headers = { $2 }
request = function()
  x = (x * 1103515245 + 12345) % 2147483648
  return wrk.format("GET", string.format("/range/%05X", x % 1048576))
end
EOF
}
lua plain ''
lua padded '["Add-Padding"] = "true"'
lua gzip '["Accept-Encoding"] = "gzip"'
cpu_ticks() { # port -> CPU clock ticks used so far by the processes listening on it
  ss -ltnp "sport = :$1" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u |
    while read -r p; do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | paste -sd+ | bc
}
run() { # port, script -> "rate p50_ms p99_ms server_cpu_us_per_request"
  local t0 t1 n
  t0=$(cpu_ticks "$1")
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/$2.lua" "http://127.0.0.1:$1" >"$work/wrk.txt"
  t1=$(cpu_ticks "$1")
  n=$(grep -o '[0-9]* requests in' "$work/wrk.txt" | cut -d' ' -f1)
  echo "$(python3 "$root/bench/wrk_stats.py" "$work/wrk.txt") $(echo "($t1 - $t0) * 1000000 / $(getconf CLK_TCK) / $n" | bc -l)"
}
median() { # "rate p50 p99 cpu" lines on stdin -> the line with the median rate
  sort -g | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
# Warm both (nginx's open-file cache, leakwatch's mapped pages), then measure, taking turns.
run "$nport" plain >/dev/null
run "$port" plain >/dev/null
for v in n_plain l_plain l_pad n_gz l_gz; do : >"$work/$v.runs"; done
for _ in $(seq 1 "$repeats"); do
  run "$nport" plain >>"$work/n_plain.runs"
  run "$port" plain >>"$work/l_plain.runs"
  run "$port" padded >>"$work/l_pad.runs"
  run "$nport" gzip >>"$work/n_gz.runs"
  run "$port" gzip >>"$work/l_gz.runs"
done
read -r n_plain n_plain_p50 n_plain_p99 n_plain_cpu < <(median <"$work/n_plain.runs")
read -r l_plain l_plain_p50 l_plain_p99 l_plain_cpu < <(median <"$work/l_plain.runs")
read -r l_pad l_pad_p50 l_pad_p99 l_pad_cpu < <(median <"$work/l_pad.runs")
read -r n_gz n_gz_p50 n_gz_p99 n_gz_cpu < <(median <"$work/n_gz.runs")
read -r l_gz l_gz_p50 l_gz_p99 l_gz_cpu < <(median <"$work/l_gz.runs")

ratio() { echo "$1 / $2" | bc -l; }
printf '\n%s hashes, uniformly random prefixes, %s connections, median of %s runs of %s s\n' "$hashes" "$conns" "$repeats" "$secs"
printf '| variant | leakwatch req/s (p50 / p99 ms) | nginx req/s (p50 / p99 ms) | leakwatch ÷ nginx | server CPU µs/request (leakwatch / nginx) |\n|---|---:|---:|---:|---:|\n'
printf '| plain | %.0f (%.3f / %.3f) | %.0f (%.3f / %.3f) | %.2f× | %.1f / %.1f |\n' "$l_plain" "$l_plain_p50" "$l_plain_p99" "$n_plain" "$n_plain_p50" "$n_plain_p99" "$(ratio "$l_plain" "$n_plain")" "$l_plain_cpu" "$n_plain_cpu"
printf '| Add-Padding (nginx: plain) | %.0f (%.3f / %.3f) | %.0f | %.2f× | %.1f / %.1f |\n' "$l_pad" "$l_pad_p50" "$l_pad_p99" "$n_plain" "$(ratio "$l_pad" "$n_plain")" "$l_pad_cpu" "$n_plain_cpu"
printf '| gzip | %.0f (%.3f / %.3f) | %.0f (%.3f / %.3f) | %.2f× | %.1f / %.1f |\n' "$l_gz" "$l_gz_p50" "$l_gz_p99" "$n_gz" "$n_gz_p50" "$n_gz_p99" "$(ratio "$l_gz" "$n_gz")" "$l_gz_cpu" "$n_gz_cpu"
line=$(printf '{"scenario":"range","date":"%s","hashes":%s,"connections":%s,"seconds":%s,"repeats":%s,"leakwatch":{"plain":[%s,%s,%s,%.2f],"padded":[%s,%s,%s,%.2f],"gzip":[%s,%s,%s,%.2f]},"nginx":{"plain":[%s,%s,%s,%.2f],"gzip":[%s,%s,%s,%.2f]},"fields":["req_per_s","p50_ms","p99_ms","server_cpu_us_per_req"]}' \
  "$(date -u +%FT%TZ)" "$hashes" "$conns" "$secs" "$repeats" \
  "$l_plain" "$l_plain_p50" "$l_plain_p99" "$l_plain_cpu" "$l_pad" "$l_pad_p50" "$l_pad_p99" "$l_pad_cpu" "$l_gz" "$l_gz_p50" "$l_gz_p99" "$l_gz_cpu" \
  "$n_plain" "$n_plain_p50" "$n_plain_p99" "$n_plain_cpu" "$n_gz" "$n_gz_p50" "$n_gz_p99" "$n_gz_cpu")
emit range "$line"
