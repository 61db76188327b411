#!/usr/bin/env bash
# Aliases at scale: one generated dump of LINES accounts imported into one breach, then
#   - the alias file's bytes per alias (= per e-mail account), from `leakwatch stats`,
#     against the account keys' bytes per account and the target of 20 B/alias;
#   - the import's time and peak RSS;
#   - domain search (`leakwatch check domain`, one process each, so it includes opening the
#     store) for the largest provider domain and for a company domain, wall time, with the
#     answers' sizes checked against the dump (every distinct address of the domain).
# Not a test: numbers go to bench/results/aliases-DATE.json.
#
# Usage: bench/aliases.sh [LINES]     (default 10000000; about 120 bytes of disk per line)
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-10000000}
root=$(pwd)
work=${ALIASES_DIR:-$root/bench/work-aliases}
. bench/lib.sh
audit_key
apt_need /usr/bin/time time
cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
machine_line

export LEAKWATCH_DATA=$work/data LEAKWATCH_OPERATOR_KEY=$("$bin" operator-key generate) LEAKWATCH_INSECURE_OPERATOR_KEY_ENV=1
"$bin" gen dump --format combo --count "$lines" --seed 1 --malformed 5 --out "$work/dump.txt"
"$bin" breach add --name BenchDump --breach-date 2026-01-01 >/dev/null
/usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" ingest -q --breach BenchDump "$work/dump.txt" >/dev/null
read -r ingest_s ingest_rss_kb <"$work/time.txt"
"$bin" stats | tee "$work/stats.txt"
alias_line=$(grep '^aliases:' "$work/stats.txt")
aliases=$(sed -E 's/.* ([0-9]+) aliases.*/\1/' <<<"$alias_line")
alias_bytes=$(sed -E 's/.* ([0-9]+) bytes.*/\1/' <<<"$alias_line")
account_bytes=$(grep '^account:' "$work/stats.txt" | sed -E 's/.* ([0-9]+) bytes.*/\1/')

# Domain search: the dump's distinct addresses per domain (lower-cased, as normalised) are
# the reference count; search the largest domain and one company domain.
awk -F: '{ a = tolower($1) } a ~ /^[^@]+@[^@]+\.[a-z]+$/ && !seen[a]++ { split(a, p, "@"); n[p[2]]++ }
  END { for (d in n) print n[d], d }' "$work/dump.txt" | sort -rn >"$work/domains.txt"
read -r big_n big <<<"$(sed -n 1p "$work/domains.txt")"
read -r small_n small <<<"$(grep -m1 -v -E ' (mailbox|webpost|fastmail)\.example$| (inbox|post)\.test$' "$work/domains.txt")"
search() { # domain → "seconds found"
  local t0 t1 n
  t0=$(date +%s.%N)
  n=$("$bin" check domain "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  t1=$(date +%s.%N)
  echo "$(echo "$t1 - $t0" | bc) $n"
}
read -r big_s big_found <<<"$(search "$big")"
read -r small_s small_found <<<"$(search "$small")"

python3 - "$lines" "$aliases" "$alias_bytes" "$account_bytes" "$ingest_s" "$ingest_rss_kb" \
  "$big" "$big_n" "$big_found" "$big_s" "$small" "$small_n" "$small_found" "$small_s" <<'PY' | tee -a "bench/results/aliases-$(date -u +%Y-%m-%d).json"
import json, sys
(lines, aliases, alias_bytes, account_bytes, ingest_s, rss_kb,
 big, big_n, big_found, big_s, small, small_n, small_found, small_s) = sys.argv[1:]
aliases, alias_bytes = int(aliases), int(alias_bytes)
print(json.dumps({
    "bench": "aliases", "lines": int(lines), "aliases": aliases, "alias_bytes": alias_bytes,
    "alias_bytes_per_alias": round(alias_bytes / aliases, 2), "target_bytes_per_alias": 20,
    "account_key_bytes_per_alias": round(int(account_bytes) / aliases, 2),
    "ingest_s": float(ingest_s), "ingest_peak_rss_mib": int(rss_kb) // 1024,
    "domain_search": [
        {"domain": "largest provider", "addresses": int(big_n), "found": int(big_found), "seconds": float(big_s)},
        {"domain": "a company", "addresses": int(small_n), "found": int(small_found), "seconds": float(small_s)},
    ],
}))
PY
[ "$big_found" = "$big_n" ] && [ "$small_found" = "$small_n" ] || { echo "domain search answered $big_found/$big_n and $small_found/$small_n" >&2; exit 1; }
