#!/usr/bin/env bash
# Soak: a steady mixed load on one `leakwatch serve` for SECONDS, measured in SLICE-second
# slices, while two imports (passwords, then a breach dump) are published half way through. Per slice: the rate served,
# errors (non-2xx answers and socket errors), p50/p99/max latency, and the server's memory
# (RSS, of which anonymous and file-backed), so drift shows as a trend, not a single number.
#
# The mix, per request: 50 % SHA-1 ranges (half of them padded), 10 % NTLM ranges, 30 %
# account lookups (addresses from the loaded dump: every one must answer 200), 10 % catalogue
# (/breaches, /breach/NAME, /dataclasses). wrk drives it with a fixed delay per connection,
# so the offered rate is steady (RATE requests/s over 8 connections) instead of "as fast as
# possible". Loopback only; bounded by SECONDS. Not a test: numbers go to bench/results/.
#
# Usage: bench/soak.sh [SECONDS] [SLICE] [RATE]   (default 600 s, 60 s slices, 2000 req/s)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
slice=${2:-60}
rate=${3:-2000}
root=$(pwd)
work=$root/bench/work-soak
port=58441
conns=8

. bench/lib.sh
audit_key
apt_need wrk wrk curl curl

cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work" bench/results
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true; }
trap cleanup EXIT
machine_line

# --- data: 2M password hashes, a 200k-line dump in one breach, 30 more breaches ---------
# The key in the environment: the documented test setting (a deployment uses a key file).
export LEAKWATCH_DATA=$work/data LEAKWATCH_OPERATOR_KEY=$("$bin" operator-key generate) LEAKWATCH_INSECURE_OPERATOR_KEY_ENV=1
"$bin" gen passwords --count 2000000 --seed 11 --out "$work/hashes.txt"
"$bin" ingest -q "$work/hashes.txt" >/dev/null
"$bin" gen dump --format combo --count 200000 --seed 12 --malformed 0 --out "$work/dump.txt"
"$bin" breach add --name SoakDump --breach-date 2026-01-01 --domain soak.example >/dev/null
"$bin" ingest -q --breach SoakDump "$work/dump.txt" >/dev/null
for i in $(seq 1 30); do
  "$bin" breach add --name "Soak$i" --breach-date "2025-01-$(printf %02d $((i % 28 + 1)))" \
    --domain "soak$i.example" >/dev/null
done
# Imported half way through the soak, one after the other: new generations published under
# load (10M plaintext passwords, then a 1M-line dump into a new breach).
"$bin" gen passwords --count 10000000 --format plain --seed 13 --out "$work/more.txt"
"$bin" gen dump --format combo --count 1000000 --seed 14 --malformed 1 --out "$work/more-dump.txt"
"$bin" breach add --name SoakLate --breach-date 2026-02-01 --domain late.example >/dev/null

awk -F: 'NR % 97 == 1 && n++ < 2000 { print $1 }' "$work/dump.txt" |
  sed -e 's/@/%40/g' -e 's/+/%2B/g' >"$work/accounts.url"
key=$("$bin" keys create --name soak --rpm 4000000000 --max-rpm 4000000000 --scope account 2>/dev/null)

"$bin" serve --metrics-listen 127.0.0.1:0 --listen "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
# Every account in the mix is in the store: a 404 would be an error, not an answer.
first=$(head -1 "$work/accounts.url")
code=$(curl -s -o /dev/null -w '%{http_code}' -A soak -H "hibp-api-key: $key" \
  "http://127.0.0.1:$port/api/v3/breachedaccount/$first")
[ "$code" = 200 ] || { echo "a loaded account was not found ($code)"; exit 1; }

delay_ms=$(( conns * 1000 / rate ))
cat >"$work/mix.lua" <<EOF
local accounts = {}
for line in io.lines("$work/accounts.url") do accounts[#accounts + 1] = line end
local catalogue = { "/api/v3/breaches", "/api/v3/breach/SoakDump", "/api/v3/dataclasses" }
local n = 0
math.randomseed(os.time())
request = function()
  n = n + 1
  local k = n % 10
  if k < 5 then
    local headers = { ["User-Agent"] = "soak" }
    if k % 2 == 0 then headers["Add-Padding"] = "true" end
    return wrk.format("GET", string.format("/range/%05X", math.random(0, 1048575)), headers)
  elseif k == 5 then
    return wrk.format("GET", string.format("/range/%05X?mode=ntlm", math.random(0, 1048575)),
      { ["User-Agent"] = "soak" })
  elseif k < 9 then
    return wrk.format("GET", "/api/v3/breachedaccount/" .. accounts[math.random(#accounts)],
      { ["User-Agent"] = "soak", ["hibp-api-key"] = "$key" })
  else
    return wrk.format("GET", catalogue[math.random(#catalogue)], { ["User-Agent"] = "soak" })
  end
end
delay = function() return $delay_ms end
EOF

mem() { awk '/^VmRSS|^RssAnon|^RssFile/ { printf "%d ", $2 / 1024 } END { print "" }' "/proc/$server/status"; }
slices=$(( secs / slice ))
import_at=$(( slices / 2 ))
echo "soak: ${secs} s in ${slice} s slices, offered ${rate} req/s over ${conns} connections; import in slice $((import_at + 1))"
printf '%-6s %-9s %-7s %-9s %-9s %-9s %-8s %-8s %-8s %s\n' slice req/s errors p50_ms p99_ms max_ms rss_mb anon_mb file_mb generation
rows=()
for i in $(seq 0 $((slices - 1))); do
  if [ "$i" = "$import_at" ]; then
    ( t0=$(date +%s.%N)
      "$bin" ingest -q "$work/more.txt" >"$work/import.txt" 2>&1
      "$bin" ingest -q --breach SoakLate "$work/more-dump.txt" >>"$work/import.txt" 2>&1
      echo "$(echo "$(date +%s.%N) - $t0" | bc -l)" >"$work/import_s.txt" ) &
    importer=$!
  fi
  wrk -t2 -c"$conns" -d"${slice}s" --latency -s "$work/mix.lua" "http://127.0.0.1:$port" >"$work/wrk-$i.txt"
  read -r r p50 p99 max errors < <(python3 - "$work/wrk-$i.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
def pct(p):
    v, u = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", t).groups()
    return float(v) * unit[u]
v, u = re.search(r"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)", t).groups()
errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", t))
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
errors += sum(int(x) for x in m.groups()) if m else 0
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
print(f"{rate:.0f} {pct(50):.2f} {pct(99):.2f} {float(v) * unit[u]:.1f} {errors}")
PY
)
  read -r rss anon file < <(mem)
  gen=$(curl -s "http://127.0.0.1:$port/readyz" | awk '{ print $NF }')
  printf '%-6s %-9s %-7s %-9s %-9s %-9s %-8s %-8s %-8s %s\n' $((i + 1)) "$r" "$errors" "$p50" "$p99" "$max" "$rss" "$anon" "$file" "$gen"
  rows+=("{\"slice\":$((i + 1)),\"rate\":$r,\"errors\":$errors,\"p50_ms\":$p50,\"p99_ms\":$p99,\"max_ms\":$max,\"rss_mb\":$rss,\"anon_mb\":$anon,\"file_mb\":$file,\"generation\":$gen}")
done
wait "${importer:-}" 2>/dev/null || true
import_s=$(cat "$work/import_s.txt" 2>/dev/null || echo null)
echo "imports under load (${import_s} s in all):"; grep -E "lines read|published" "$work/import.txt" || true
grep -c "now serving a new generation" "$work/serve.log" | xargs echo "generations switched by the server:"
json_rows=$(IFS=,; echo "${rows[*]}")
emit soak "{\"scenario\":\"soak\",\"date\":\"$(date -u +%FT%TZ)\",\"seconds\":$secs,\"slice_s\":$slice,\"offered_rate\":$rate,\"connections\":$conns,\"import_s\":$import_s,\"slices\":[$json_rows]}"
