#!/usr/bin/env bash
# Single-password lookups, leakwatch against peers that install from the registries, on
# the same generated corpus, cold (page cache dropped, where this user may) and hot:
#   - in-process: leakwatch's library call (example check_latency: SHA-1 + Snapshot::count)
#     against PyPI's pwnedpasswords-offline (binary search over the file ordered by hash);
#   - one process per lookup: `leakwatch check password` against `look` (bsdextrautils:
#     binary search over the same sorted file);
#   - bulk: pwqfilter (Debian passwdqc: a probabilistic filter, no counts) streaming the
#     query hashes, against the library call.
# Not a test: numbers go to bench/results/ (and $BENCH_JSON when bench/run.sh runs it).
#
# Usage: bench/lookup.sh [HASHES] [QUERIES]     (default 10000000 2000)
# Disk: about 90 bytes per hash (input, sorted copy, store, filter).
set -euo pipefail
cd "$(dirname "$0")/.."
hashes=${1:-10000000}
queries=${2:-2000}
root=$(pwd)
work=$root/bench/work-lookup

. bench/lib.sh
audit_key
apt_need pwqfilter passwdqc look bsdextrautils bc bc
python3 -c 'import pwnedpasswords_offline' 2>/dev/null || pip install -q pwnedpasswords-offline==1.2.0
cargo build --release -p leakwatch --locked
cargo build --release -p leakwatch-ingest --example check_latency --locked
bin=$root/target/release/leakwatch
latency=$root/target/release/examples/check_latency
rm -rf "$work" && mkdir -p "$work" bench/results
trap 'rm -rf "$work"' EXIT
machine_line

# Seed 0: the corpus holds the passwords of ranks 0..HASHES, which is what a plain list of
# the same seed family draws from, so most queries are found. One in ten is never seen.
"$bin" gen passwords --format sha1 --count "$hashes" --seed 0 --out "$work/corpus.txt"
"$bin" ingest -q --data "$work/data" "$work/corpus.txt" >/dev/null
LC_ALL=C sort -S 1G -t: -k1,1 "$work/corpus.txt" -o "$work/sorted.txt"
"$bin" gen passwords --format plain --count "$((queries * 9 / 10))" --seed 7 >"$work/pw.txt"
for i in $(seq 1 $((queries / 10))); do echo "never-seen-$i-Qx"; done >>"$work/pw.txt"
python3 -c '
import hashlib, sys
for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
    print(hashlib.sha1(line.encode()).hexdigest().upper())' "$work/pw.txt" >"$work/qhash.txt"
# Capacity with room: pwqfilter fills to about 98% of it and gives up past that.
cut -d: -f1 "$work/corpus.txt" | pwqfilter --create="$((hashes * 5 / 4))" --pre-hashed -o "$work/filter.pwq"

page_cache_init
now() { date +%s%N; }

# In-process: leakwatch library vs pwnedpasswords-offline.
drop_page_cache
lib=$("$latency" "$work/data/store" "$work/pw.txt" 1000000)
drop_page_cache
pwo=$(python3 bench/pwo_lookup.py "$work/sorted.txt" "$work/pw.txt" 100000)
echo "leakwatch library: $lib"
echo "pwnedpasswords-offline: $pwo"

# One process per lookup: `leakwatch check password` vs `look`, cold first then hot.
per_process() { # command template via function name -> "cold_ms hot_ms"
  local fn=$1 t0 t1 cold
  drop_page_cache
  t0=$(now); "$fn" 1 >/dev/null; t1=$(now); cold=$(((t1 - t0) / 1000))
  t0=$(now)
  for i in $(seq 1 200); do "$fn" "$i" >/dev/null; done
  t1=$(now)
  echo "$cold $(((t1 - t0) / 200 / 1000))"
}
lw_check() { sed -n "${1}p" "$work/pw.txt" | "$bin" check password --data "$work/data"; }
look_one() { look "$(sed -n "${1}p" "$work/qhash.txt")" "$work/sorted.txt" || true; }
read -r check_cold_us check_hot_us < <(per_process lw_check)
read -r look_cold_us look_hot_us < <(per_process look_one)
# Both pay for `sed` picking the query; measured alone, it is subtracted.
noop() { sed -n "${1}p" "$work/pw.txt"; }
read -r _ sed_us < <(per_process noop)
check_hot_us=$((check_hot_us - sed_us))
look_hot_us=$((look_hot_us - sed_us))

# Bulk: pwqfilter streams query hashes (the list repeated to 200,000 lookups).
reps=$((200000 / queries + 1))
for _ in $(seq 1 "$reps"); do cat "$work/qhash.txt"; done >"$work/qbulk.txt"
bulk_n=$(wc -l <"$work/qbulk.txt")
t0=$(now); pwqfilter -f "$work/filter.pwq" --pre-hashed -c <"$work/qbulk.txt" >/dev/null; t1=$(now)
pwq_us=$(echo "($t1 - $t0) / 1000 / $bulk_n" | bc -l)
# pwqfilter is given hashes, so the library is too here (no SHA-1 of a password per lookup).
lib_hashed=$("$latency" "$work/data/store" "$work/qhash.txt" 1000000)

r() { echo "$1 / $2" | bc -l; }
printf '\n%s hashes; %s query passwords (90%% from the corpus family, 10%% never seen)\n' "$hashes" "$queries"
printf '| how | leakwatch | peer | cold first (leakwatch / peer) | hot per lookup (leakwatch / peer) | leakwatch ÷ peer (hot) |\n|---|---|---|---:|---:|---:|\n'
printf '| in-process | library (SHA-1 + count) | pwnedpasswords-offline (PyPI) | %s / %s µs | %s / %s µs (p99 %s / %s) | %.1f× |\n' \
  "$(kv first_pass_us "$lib")" "$(kv first_pass_us "$pwo")" "$(kv hot_us "$lib")" "$(kv hot_us "$pwo")" \
  "$(kv hot_p99_us "$lib")" "$(kv hot_p99_us "$pwo")" "$(r "$(kv hot_us "$pwo")" "$(kv hot_us "$lib")")"
printf '| process per lookup | leakwatch check password | look (binary search) | %s / %s µs | %s / %s µs | %.2f× |\n' \
  "$check_cold_us" "$look_cold_us" "$check_hot_us" "$look_hot_us" "$(r "$look_hot_us" "$check_hot_us")"
printf '| bulk, hashes given | library | pwqfilter --pre-hashed (Debian passwdqc) | – | %s / %.3f µs | %.1f× |\n' \
  "$(kv hot_us "$lib_hashed")" "$pwq_us" "$(r "$pwq_us" "$(kv hot_us "$lib_hashed")")"
line=$(printf '{"scenario":"lookup","date":"%s","hashes":%s,"queries":%s,"cold_is_cold":%s,"library":{"first_pass_us":%s,"hot_us":%s,"p50_us":%s,"p99_us":%s},"pwnedpasswords_offline":{"first_pass_us":%s,"hot_us":%s,"p50_us":%s,"p99_us":%s},"check_cli":{"cold_us":%s,"hot_us":%s},"look":{"cold_us":%s,"hot_us":%s},"pwqfilter":{"hot_us":%.3f},"library_hashed":{"hot_us":%s,"p99_us":%s}}' \
  "$(date -u +%FT%TZ)" "$hashes" "$queries" "$can_drop" \
  "$(kv first_pass_us "$lib")" "$(kv hot_us "$lib")" "$(kv hot_p50_us "$lib")" "$(kv hot_p99_us "$lib")" \
  "$(kv first_pass_us "$pwo")" "$(kv hot_us "$pwo")" "$(kv hot_p50_us "$pwo")" "$(kv hot_p99_us "$pwo")" \
  "$check_cold_us" "$check_hot_us" "$look_cold_us" "$look_hot_us" "$pwq_us" \
  "$(kv hot_us "$lib_hashed")" "$(kv hot_p99_us "$lib_hashed")")
emit lookup "$line"
