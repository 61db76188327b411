#!/usr/bin/env bash
# Scale-out: one store on S3-compatible object storage (SeaweedFS `weed mini`, loopback),
# served by 1, 2 and 3 `leakwatch serve` replicas (each with its own cache directory) behind
# HAProxy; wrk over uniformly random /range/XXXXX through HAProxy, and straight to one
# replica for HAProxy's overhead. Then a second import is published and the time from the
# importer's exit to every replica serving it is measured.
#
# THIS MACHINE HAS 2 CORES: wrk, HAProxy and every replica share them, so adding replicas
# cannot add throughput here. The figures show the proxy's overhead and that N replicas serve
# correctly, not linear scaling; on N machines each replica brings its own cores.
# Not a test: numbers go to bench/results/scale-out-DATE.json.
#
# Usage: bench/scale-out.sh [PREFIXESxLINES | HASHES] [SECONDS] [CONNECTIONS]
#        (default 4096x1900 10 64: ranges of the public corpus's ~1,900 lines, uniformly over
#        the populated prefixes, with the range cache holding 1.25% of the rendered ranges as a
#        production cache holds of the real corpus; a bare HASHES spreads them over every prefix)
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-4096x1900}
secs=${2:-10}
conns=${3:-64}
root=$(pwd)
work=${SCALE_OUT_DIR:-$root/bench/work-scale-out}
. bench/lib.sh
audit_key
apt_need wrk wrk haproxy haproxy curl curl bc bc
command -v weed >/dev/null || python3 -m pip install --quiet --break-system-packages -r tests/py/requirements.txt
cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
machine_line

# --- SeaweedFS on loopback, every listener on a port of its own ---------------------------
s3=58901
weed mini -dir="$work/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
  -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -s3.port=$s3 \
  -master.port=58902 -master.port.grpc=58903 -filer.port=58904 -filer.port.grpc=58905 \
  -volume.port=58906 -volume.port.grpc=58907 -s3.port.grpc=58908 -admin.port=58909 \
  -admin.port.grpc=58910 >"$work/weed.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$s3/" >/dev/null && break; sleep 0.2; done
curl -fs -X PUT "http://127.0.0.1:$s3/bench" >/dev/null
export AWS_ENDPOINT_URL=http://127.0.0.1:$s3 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
store=s3://bench/passwords

# --- the first import, from an importer's own cache directory -----------------------------
if [[ $shape == *x* ]]; then
  gen_shape=(--prefixes "${shape%x*}" --lines-per-range "${shape#*x}")
else
  gen_shape=(--count "$shape")
fi
"$bin" gen passwords --format sha1 "${gen_shape[@]}" --seed 3 --out "$work/first.txt"
hashes=$(wc -l <"$work/first.txt")
if [[ $shape == *x* ]]; then
  # The populated prefixes, asked uniformly; the cache holds 1.25% of their rendered text.
  cut -c1-5 "$work/first.txt" | uniq | awk 'BEGIN { printf "local p = {" } { printf "%s\"%s\"", (NR > 1 ? "," : ""), $1 } END { print "}" }' >"$work/ranges.lua"
  printf 'request = function()\n  return wrk.format("GET", "/range/" .. p[math.random(#p)])\nend\n' >>"$work/ranges.lua"
  cache_bytes=$(awk '{ n += length($0) - 3 } END { printf "%d", n * 0.0125 }' "$work/first.txt")
else
  random_ranges_lua "$work/ranges.lua"
  cache_bytes=268435456
fi
t0=$(date +%s.%N)
"$bin" ingest -q --data "$store" --cache-dir "$work/importer" "$work/first.txt"
ingest_s=$(echo "$(date +%s.%N) - $t0" | bc)
rm "$work/first.txt"
store_bytes=$(du -sb "$work/weed" | cut -f1)

# --- three replicas ---------------------------------------------------------------------
ports=(58921 58922 58923)
for i in 0 1 2; do
  "$bin" serve --data "$store" --cache-dir "$work/replica$i" --listen "127.0.0.1:${ports[$i]}" \
    --metrics-listen 127.0.0.1:0 --range-cache "$cache_bytes" 2>"$work/replica$i.log" &
  pids+=($!)
done
t0=$(date +%s.%N)
for i in 0 1 2; do
  for _ in $(seq 1 6000); do curl -fs "http://127.0.0.1:${ports[$i]}/range/00000" >/dev/null && break; sleep 0.1; done
done
start_s=$(echo "$(date +%s.%N) - $t0" | bc)

load() { # port -> "rate p50_ms p99_ms" and the count of non-2xx answers
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/ranges.lua" "http://127.0.0.1:$1" >"$work/wrk.txt"
  local bad
  bad=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$work/wrk.txt" | grep -o '[0-9]*$' || echo 0)
  echo "$(python3 "$root/bench/wrk_stats.py" "$work/wrk.txt") $bad"
}
hport=58930
haproxy_with() { # N: HAProxy in front of the first N replicas
  {
    printf 'global\n  maxconn 4096\n  nbthread 1\n'
    printf 'defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n'
    printf '  retries 3\n  option redispatch 1\n  retry-on all-retryable-errors\n  http-reuse always\n'
    printf 'frontend public\n  bind 127.0.0.1:%s\n  default_backend replicas\n' "$hport"
    printf 'backend replicas\n  balance roundrobin\n  option httpchk GET /range/00000\n'
    for i in $(seq 0 $(($1 - 1))); do
      printf '  server r%s 127.0.0.1:%s check inter 500ms\n' "$i" "${ports[$i]}"
    done
  } >"$work/haproxy.cfg"
  haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
  hpid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$hport/range/00000" >/dev/null && break; sleep 0.1; done
}
load "${ports[0]}" >/dev/null # warm the first replica's mapped pages
read -r direct_rate direct_p50 direct_p99 direct_bad <<<"$(load "${ports[0]}")"
results=()
for n in 1 2 3; do
  haproxy_with "$n"
  load "$hport" >/dev/null # warm
  read -r rate p50 p99 bad <<<"$(load "$hport")"
  kill "$hpid"; wait "$hpid" 2>/dev/null || true
  results+=("{\"replicas\": $n, \"rate\": $rate, \"p50_ms\": $p50, \"p99_ms\": $p99, \"non_2xx\": $bad}")
done

# --- publish to every replica serving it --------------------------------------------------
"$bin" gen passwords --format sha1 --count 10000 --seed 77 --out "$work/second.txt"
# A hash no import had before (the generator's first lines are the common passwords).
probe=$(head -c 32 /dev/urandom | sha1sum | cut -c1-40 | tr a-f A-F)
echo "$probe:1" >>"$work/second.txt"
prefix=${probe:0:5}
suffix=${probe:5:35}
grep -qi "^$suffix" <(curl -fs "http://127.0.0.1:${ports[0]}/range/$prefix") && { echo "probe already served" >&2; exit 1; }
"$bin" ingest -q --data "$store" --cache-dir "$work/importer" "$work/second.txt"
t0=$(date +%s.%N)
for i in 0 1 2; do
  until curl -fs "http://127.0.0.1:${ports[$i]}/range/$prefix" | grep -qi "^$suffix"; do sleep 0.01; done
done
publish_s=$(echo "$(date +%s.%N) - $t0" | bc)

line=$(printf '{"bench": "scale-out", "shape": "%s", "hashes": %s, "range_cache_bytes": %s, "seconds": %s, "connections": %s, "ingest_s": %s, "store_bytes": %s, "replicas_ready_s": %s, "direct_one_replica": {"rate": %s, "p50_ms": %s, "p99_ms": %s, "non_2xx": %s}, "through_haproxy": [%s], "publish_to_all_replicas_s": %s, "note": "2 cores shared by wrk, HAProxy and every replica: overhead and correctness, not scaling"}' \
  "$shape" "$hashes" "$cache_bytes" "$secs" "$conns" "$ingest_s" "$store_bytes" "$start_s" "$direct_rate" "$direct_p50" "$direct_p99" "$direct_bad" \
  "$(IFS=,; echo "${results[*]}")" "$publish_s")
echo "$line"
emit scale-out "$line"
