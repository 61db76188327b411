#!/usr/bin/env bash
# Ingest of a generated Pwned Passwords-format SHA-1 file (hash-random order, as shuffled as
# a real corpus is across its sources) into a fresh store, against the peers on the same
# file, all in one run:
#   - the read floor: `cat FILE > /dev/null`, cold (page cache dropped, where this user may)
#     and warm;
#   - GNU `sort -u` by hash with the same memory budget, writing its sorted output;
#   - PostgreSQL: `\copy` into a table, then ADD PRIMARY KEY (maintenance_work_mem = budget);
#   - DuckDB: read_csv + ORDER BY hash into a table (memory_limit = budget), CHECKPOINT.
# Reports seconds, the ratios, bytes per hash for leakwatch (against the floor), PostgreSQL
# (table + index) and DuckDB (its file), and leakwatch's peak RSS against the budget.
# Not a test: numbers go to bench/results/ (and $BENCH_JSON when bench/run.sh runs it).
#
# Usage: bench/ingest.sh [COUNT ...]        (default: 10000000; MEMORY=1G to change the budget)
# Needs ~150 bytes of disk per line (input, sort output, PostgreSQL, DuckDB, store).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 0 ] && set -- 10000000
mem=${MEMORY:-1G}
mem_mb=$(numfmt --from=iec "$mem" | awk '{ printf "%d", $1 / 1048576 }')
root=$(pwd)
work=$root/bench/work-ingest
pgdir=/tmp/leakwatch-bench-pg-ingest
pgport=58433
. bench/lib.sh
audit_key
apt_need /usr/bin/time time bc bc psql "postgresql postgresql-contrib"
python3 -c 'import duckdb' 2>/dev/null || pip install -q duckdb==1.1.3
cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
mkdir -p "$work"
chmod a+rx "$work"
trap 'pg_stop "$pgdir"; rm -rf "$work"' EXIT
machine_line
page_cache_init
timed() { # output-file command... -> "seconds peak_rss_kb" in the file
  local f=$1
  shift
  /usr/bin/time -f "%e %M" -o "$f" "$@"
}
r() { echo "$1 / $2" | bc -l; }

printf '| hashes | input | read cold / warm | leakwatch | sort -u | PostgreSQL COPY + PK | DuckDB load + sort | leakwatch ÷ (sort, PG, DuckDB) | B/hash leakwatch / floor / PG / DuckDB | peak RSS (budget %s) |\n' "$mem"
printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for n in "$@"; do
  rm -rf "$work"/*
  "$bin" gen passwords --format sha1 --count "$n" --seed 1 --out "$work/input.txt"
  chmod a+r "$work/input.txt"
  size=$(stat -c %s "$work/input.txt")
  drop_page_cache
  t0=$(date +%s.%N); cat "$work/input.txt" >/dev/null; t1=$(date +%s.%N)
  read_cold=$(echo "$t1 - $t0" | bc -l)
  t0=$(date +%s.%N); cat "$work/input.txt" >/dev/null; t1=$(date +%s.%N)
  read_warm=$(echo "$t1 - $t0" | bc -l)

  timed "$work/t-lw" "$bin" ingest -q --memory "$mem" --data "$work/data" "$work/input.txt" >/dev/null
  read -r lw_s lw_rss <"$work/t-lw"
  deep=$("$bin" stats --deep --data "$work/data" | grep 'bytes_per_hash=' | head -1)
  bph=$(sed -E 's/.* bytes_per_hash=([0-9.]+).*/\1/' <<<"$deep")
  fph=$(sed -E 's/.*floor_bytes_per_hash=([0-9.]+).*/\1/' <<<"$deep")
  to_floor=$(sed -E 's/.*ratio_to_floor=([0-9.]+).*/\1/' <<<"$deep")
  rm -rf "$work/data"

  timed "$work/t-sort" env LC_ALL=C sort -u -t: -k1,1 -S "$mem" -T "$work" "$work/input.txt" -o "$work/sorted.txt"
  read -r sort_s sort_rss <"$work/t-sort"
  rm -f "$work/sorted.txt"

  pg_start "$pgdir" "$pgport"
  psql() { command psql -h 127.0.0.1 -p "$pgport" -U postgres -qtA "$@" postgres; }
  psql -c "create table pwned (hash char(40) not null, count bigint not null)"
  t0=$(date +%s.%N)
  psql -c "\\copy pwned from '$work/input.txt' with (delimiter ':')"
  psql -c "set maintenance_work_mem = '${mem_mb}MB'; alter table pwned add primary key (hash)"
  t1=$(date +%s.%N)
  pg_s=$(echo "$t1 - $t0" | bc -l)
  pg_bytes=$(psql -c "select pg_total_relation_size('pwned')")
  pg_stop "$pgdir"

  read -r duck_s duck_bytes < <(python3 - "$work" "$mem" <<'PY'
import os, sys, time, duckdb
work, mem = sys.argv[1], sys.argv[2]
db = os.path.join(work, "pwned.duckdb")
con = duckdb.connect(db, config={"memory_limit": mem + "B", "temp_directory": work})
t0 = time.time()
con.execute(f"""
  CREATE TABLE pwned AS SELECT * FROM read_csv('{work}/input.txt', header=false, delim=':',
    columns={{'hash': 'VARCHAR', 'count': 'BIGINT'}}) ORDER BY hash;
  CHECKPOINT;
""")
elapsed = time.time() - t0
rows = con.execute("SELECT count(*) FROM pwned").fetchone()[0]
con.close()
assert rows > 0
print(f"{elapsed:.2f} {os.path.getsize(db)}")
PY
)
  rm -f "$work/pwned.duckdb"

  printf '| %s | %.0f MB | %.2f / %.2f s | %.1f s | %.1f s | %.1f s | %.1f s | %.1f× / %.1f× / %.1f× | %s / %s / %.1f / %.1f | %.0f MB |\n' \
    "$n" "$(echo "$size/1000000" | bc -l)" "$read_cold" "$read_warm" "$lw_s" "$sort_s" "$pg_s" "$duck_s" \
    "$(r "$sort_s" "$lw_s")" "$(r "$pg_s" "$lw_s")" "$(r "$duck_s" "$lw_s")" \
    "$bph" "$fph" "$(r "$pg_bytes" "$n")" "$(r "$duck_bytes" "$n")" "$(echo "$lw_rss/1024" | bc -l)"
  emit ingest "$(printf '{"scenario":"ingest","date":"%s","hashes":%s,"input_bytes":%s,"memory_budget":"%s","read_cold_s":%.3f,"read_warm_s":%.3f,"leakwatch":{"s":%s,"peak_rss_kb":%s,"bytes_per_hash":%s,"floor_bytes_per_hash":%s,"ratio_to_floor":%s},"sort_u":{"s":%s,"peak_rss_kb":%s},"postgresql":{"s":%.2f,"bytes":%s},"duckdb":{"s":%s,"bytes":%s},"cold_is_cold":%s}' \
    "$(date -u +%FT%TZ)" "$n" "$size" "$mem" "$read_cold" "$read_warm" "$lw_s" "$lw_rss" "$bph" "$fph" "$to_floor" \
    "$sort_s" "$sort_rss" "$pg_s" "$pg_bytes" "$duck_s" "$duck_bytes" "$can_drop")"
done
