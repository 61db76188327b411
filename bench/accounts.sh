#!/usr/bin/env bash
# Account lookups: leakwatch's /api/v3/breachedaccount over loopback against
#   - a ripgrep scan of the raw dump (what you do without leakwatch),
#   - PostgreSQL point selects: `pgbench -S` at the same row count and concurrency (the
#     yardstick PRODUCT.md names), over TCP loopback like leakwatch,
#   - DuckDB point lookups on the same accounts (PRIMARY KEY on the address), in-process.
# All in one run on this machine, with the ratios. Not a test: numbers go to bench/results/.
#
# Usage: bench/accounts.sh [LINES] [SECONDS]     (default 10000000 lines, 10 s per load run)
# Installs ripgrep, wrk, PostgreSQL (Debian) and duckdb (PyPI) if missing. Needs about
# 100 bytes of disk per line. Load is bounded: SECONDS per run, loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-10000000}
secs=${2:-10}
root=$(pwd)
work=$root/bench/work-accounts
pgdir=/tmp/leakwatch-bench-pg
port=58431
pgport=58432

. bench/lib.sh
audit_key
apt_need rg ripgrep wrk wrk /usr/bin/time time bc bc curl curl
python3 -c 'import duckdb' 2>/dev/null || pip install -q duckdb==1.1.3

cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work" bench/results
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  pg_stop "$pgdir"
}
trap cleanup EXIT

machine_line

# --- data: one generated dump, loaded into one breach ---------------------------------
# The key in the environment: the documented test setting (a deployment uses a key file).
export LEAKWATCH_DATA=$work/data LEAKWATCH_OPERATOR_KEY=$("$bin" operator-key generate) LEAKWATCH_INSECURE_OPERATOR_KEY_ENV=1
"$bin" gen dump --format combo --count "$lines" --seed 1 --malformed 5 --out "$work/dump.txt"
dump_bytes=$(stat -c %s "$work/dump.txt")
"$bin" breach add --name BenchDump --breach-date 2026-01-01 --domain bench.example >/dev/null
/usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" ingest -q --breach BenchDump "$work/dump.txt" >"$work/ingest.txt"
read -r ingest_s ingest_rss_kb <"$work/time.txt"
accounts=$("$bin" breach show BenchDump | python3 -c 'import json,sys; print(json.load(sys.stdin)["PwnCount"])')
store_bytes=$(du -cb "$work"/data/store/*account* | tail -1 | cut -f1)

# Queries: every 997th address of the dump as typed (valid ones), plus 10% never breached.
awk -F: 'NR % 997 == 1 && $1 ~ /^[^@]+@[^@]+\.[A-Za-z]+$/ && n++ < 5000 { print $1 }' "$work/dump.txt" >"$work/queries.txt"
n_known=$(wc -l <"$work/queries.txt")
for i in $(seq 1 $((n_known / 10))); do echo "nobody$i@nowhere.example"; done >>"$work/queries.txt"
sed -e 's/@/%40/g' -e 's/+/%2B/g' "$work/queries.txt" >"$work/queries.url"

# --- in-process: Snapshot::account_breaches, no HTTP -------------------------------------
python3 -c 'import hashlib,sys; [print(hashlib.sha1(l.strip().lower().encode()).hexdigest()) for l in open(sys.argv[1])]' \
  "$work/queries.txt" >"$work/queries.sha1"
cargo build --release -p leakwatch-store --example lookup_latency --locked 2>/dev/null
inproc_us=$("$root/target/release/examples/lookup_latency" "$work/data/store" "$work/queries.sha1" 2000000 | awk '{ print $1 }')

# --- ripgrep: one scan of the raw dump per lookup (page cache warm) ---------------------
cat "$work/dump.txt" >/dev/null
t0=$(date +%s.%N)
head -5 "$work/queries.txt" | while read -r q; do rg -F -i -c -- "$q" "$work/dump.txt" >/dev/null || true; done
t1=$(date +%s.%N)
rg_per_lookup=$(echo "($t1 - $t0) / 5" | bc -l)
rg_rate=$(echo "1 / $rg_per_lookup" | bc -l)

# --- leakwatch over HTTP, driven by wrk -------------------------------------------------
key=$("$bin" keys create --name bench --rpm 4000000000 --max-rpm 4000000000 --scope account 2>/dev/null)
"$bin" serve --metrics-listen 127.0.0.1:0 --listen "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
cat >"$work/lookup.lua" <<EOF
local qs = {}
for line in io.lines("$work/queries.url") do qs[#qs + 1] = line end
local i = 0
request = function()
  i = i % #qs + 1
  return wrk.format("GET", "/api/v3/breachedaccount/" .. qs[i],
    { ["User-Agent"] = "leakwatch-bench", ["hibp-api-key"] = "$key" })
end
EOF
wrk_run() { # concurrency -> "rate p50_ms p99_ms"
  local c=$1 t=$(( $1 < 2 ? 1 : 2 ))
  wrk -t"$t" -c"$c" -d"${secs}s" --latency -s "$work/lookup.lua" "http://127.0.0.1:$port" >"$work/wrk-$c.txt"
  python3 "$root/bench/wrk_stats.py" "$work/wrk-$c.txt"
}
read -r lw1 lw1_p50 lw1_p99 < <(wrk_run 1)
read -r lw16 lw16_p50 lw16_p99 < <(wrk_run 16)
# Every query answered correctly (200 for the dump's addresses, 404 for the others)?
ok=$(curl -s -o /dev/null -w '%{http_code}' -A bench -H "hibp-api-key: $key" "http://127.0.0.1:$port/api/v3/breachedaccount/$(head -1 "$work/queries.url")")
[ "$ok" = 200 ] || { echo "a known account was not found ($ok)"; exit 1; }
kill "$server"; wait "$server" 2>/dev/null || true; server=

# --- the audit log's cost (issue #19): c=16 with and without it, servers taking turns ----
# Without: LEAKWATCH_INSECURE_UNAUDITED_SERVE=1, the benchmarks' setting (recorded in the log).
serve_bg() {
  env "$@" "$bin" serve --metrics-listen 127.0.0.1:0 --listen "127.0.0.1:$port" 2>>"$work/serve.log" &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
}
audited=() unaudited=()
for _ in 1 2 3; do
  serve_bg LEAKWATCH_INSECURE_UNAUDITED_SERVE=1
  read -r r _ _ < <(wrk_run 16); unaudited+=("$r")
  kill "$server"; wait "$server" 2>/dev/null || true; server=
  serve_bg
  read -r r _ _ < <(wrk_run 16); audited+=("$r")
  kill "$server"; wait "$server" 2>/dev/null || true; server=
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
audit_on=$(median "${audited[@]}")
audit_off=$(median "${unaudited[@]}")
audit_events=$("$bin" audit-log verify | head -1 | sed -E 's/.* ([0-9]+) events.*/\1/')
audit_bytes=$(du -cb "$work"/data/audit/trail-*.log | tail -1 | cut -f1)
printf 'audit log: c=16 %.0f lookups/s with, %.0f without (medians of 3 turns each: %s | %s): %.1f%% fewer; %s records in %s bytes, %.1f B/record\n' \
  "$audit_on" "$audit_off" "${audited[*]}" "${unaudited[*]}" "$(echo "100 * (1 - $audit_on / $audit_off)" | bc -l)" \
  "$audit_events" "$audit_bytes" "$(echo "$audit_bytes / $audit_events" | bc -l)"

# --- PostgreSQL: pgbench -S at the same number of rows ----------------------------------
# Both query modes: simple (a parse and plan per query) and prepared (PRODUCT.md's
# yardstick: PostgreSQL at its fastest point select).
pg_start "$pgdir" "$pgport"
scale=$(( (accounts + 99999) / 100000 ))
pg_t0=$(date +%s.%N)
pgbench -i -q -s "$scale" -h 127.0.0.1 -p "$pgport" -U postgres postgres >/dev/null 2>&1
pg_t1=$(date +%s.%N)
pg_load_s=$(echo "$pg_t1 - $pg_t0" | bc -l)
pg_bytes=$(psql -h 127.0.0.1 -p "$pgport" -U postgres -tAc "select pg_total_relation_size('pgbench_accounts')" postgres)
pg_run() { # clients mode
  pgbench -S -n -M "$2" -c "$1" -j "$(( $1 < 2 ? 1 : 2 ))" -T "$secs" -h 127.0.0.1 -p "$pgport" -U postgres postgres 2>/dev/null |
    awk '/^tps/ { print $3; exit }'
}
pg1=$(pg_run 1 simple)
pg16=$(pg_run 16 simple)
pgp1=$(pg_run 1 prepared)
pgp16=$(pg_run 16 prepared)
pg_stop "$pgdir"

# --- DuckDB: the same accounts, PRIMARY KEY lookups from threads --------------------------
# The addresses are cut out of the dump and lower-cased beforehand (not timed: DuckDB gets
# clean input); DuckDB then loads, deduplicates and indexes them.
awk -F: '{ print tolower($1) }' "$work/dump.txt" | grep -E '^[^@]+@[^@.][^@]*\.[a-z]+$' >"$work/emails.txt"
read -r duck_load_s duck1 duck16 duck_bytes < <(python3 - "$work" "$secs" <<'PY'
import os, sys, threading, time, duckdb
work, secs = sys.argv[1], float(sys.argv[2])
db = os.path.join(work, "accounts.duckdb")
con = duckdb.connect(db)
t0 = time.time()
con.execute(f"""
  CREATE TABLE acct(email VARCHAR PRIMARY KEY, breach VARCHAR);
  INSERT INTO acct SELECT DISTINCT email, 'BenchDump'
  FROM read_csv('{work}/emails.txt', header=false, columns={{'email': 'VARCHAR'}}, delim='\t');
  CHECKPOINT;
""")
load = time.time() - t0
queries = [q.lower() for q in open(os.path.join(work, "queries.txt")).read().split()]
def rate(c):
    done = [0] * c
    stop = time.time() + secs
    def run(k):
        cur = con.cursor()
        i = k
        while time.time() < stop:
            cur.execute("SELECT breach FROM acct WHERE email = ?", [queries[i % len(queries)]]).fetchall()
            i += c; done[k] += 1
    ts = [threading.Thread(target=run, args=(k,)) for k in range(c)]
    for t in ts: t.start()
    for t in ts: t.join()
    return sum(done) / secs
hit = con.execute("SELECT count(*) FROM acct WHERE email = ?", [queries[0]]).fetchone()[0]
assert hit == 1, "DuckDB lost a known account"
r1, r16 = rate(1), rate(16)
con.close()
print(f"{load:.2f} {r1:.1f} {r16:.1f} {os.path.getsize(db)}")
PY
)

# --- report ----------------------------------------------------------------------------
ratio() { echo "$1 / $2" | bc -l; }
printf '\n%s accounts from a %s-line dump (%.0f MB); leakwatch ingest %.1f s (peak RSS %.0f MB), account files %.1f B/account; in-process lookup %s us\n' \
  "$accounts" "$lines" "$(echo "$dump_bytes/1000000" | bc -l)" "$ingest_s" "$(echo "$ingest_rss_kb/1024" | bc -l)" "$(echo "$store_bytes/$accounts" | bc -l)" "$inproc_us"
printf '| peer | lookups/s c=1 | lookups/s c=16 | leakwatch ÷ peer (c=1) | leakwatch ÷ peer (c=16) | load time | bytes |\n|---|---:|---:|---:|---:|---:|---:|\n'
printf '| leakwatch (HTTP, wrk) | %.0f (p50 %.3f ms, p99 %.3f ms) | %.0f (p50 %.3f ms, p99 %.3f ms) | | | %.1f s | %s |\n' \
  "$lw1" "$lw1_p50" "$lw1_p99" "$lw16" "$lw16_p50" "$lw16_p99" "$ingest_s" "$store_bytes"
printf '| ripgrep scan (rg -F -i) | %.2f | | %.0f× | | – | %s (raw dump) |\n' "$rg_rate" "$(ratio "$lw1" "$rg_rate")" "$dump_bytes"
printf '| PostgreSQL pgbench -S -M prepared (TCP) | %.0f | %.0f | %.2f× | %.2f× | %.1f s | %s |\n' "$pgp1" "$pgp16" "$(ratio "$lw1" "$pgp1")" "$(ratio "$lw16" "$pgp16")" "$pg_load_s" "$pg_bytes"
printf '| PostgreSQL pgbench -S (simple protocol) | %.0f | %.0f | %.2f× | %.2f× | (same) | (same) |\n' "$pg1" "$pg16" "$(ratio "$lw1" "$pg1")" "$(ratio "$lw16" "$pg16")"
printf '| DuckDB (in-process, PK) | %.0f | %.0f | %.1f× | %.1f× | %.1f s | %s |\n' "$duck1" "$duck16" "$(ratio "$lw1" "$duck1")" "$(ratio "$lw16" "$duck16")" "$duck_load_s" "$duck_bytes"
line=$(printf '{"scenario":"accounts","date":"%s","lines":%s,"accounts":%s,"ingest_s":%s,"ingest_rss_kb":%s,"account_store_bytes":%s,"dump_bytes":%s,"inprocess_lookup_us":%s,"leakwatch":{"c1":%s,"c1_p50_ms":%s,"c1_p99_ms":%s,"c16":%s,"c16_p50_ms":%s,"c16_p99_ms":%s},"ripgrep_per_lookup_s":%.4f,"pgbench_S":{"c1":%s,"c16":%s,"load_s":%.2f,"bytes":%s},"pgbench_S_prepared":{"c1":%s,"c16":%s},"duckdb":{"c1":%s,"c16":%s,"load_s":%s,"bytes":%s},"audit":{"c16_with":%s,"c16_without":%s,"records":%s,"bytes":%s},"seconds_per_run":%s}' \
  "$(date -u +%FT%TZ)" "$lines" "$accounts" "$ingest_s" "$ingest_rss_kb" "$store_bytes" "$dump_bytes" "$inproc_us" \
  "$lw1" "$lw1_p50" "$lw1_p99" "$lw16" "$lw16_p50" "$lw16_p99" "$rg_per_lookup" "$pg1" "$pg16" "$pg_load_s" "$pg_bytes" \
  "$pgp1" "$pgp16" "$duck1" "$duck16" "$duck_load_s" "$duck_bytes" "$audit_on" "$audit_off" "$audit_events" "$audit_bytes" "$secs")
emit accounts "$line"
rm -rf "$work"
