#!/usr/bin/env bash
# Stealer-log ingest against combolist ingest on the same machine, in one run: the same
# number of units (a generated tree of stealer logs in every layout: RedLine/Raccoon blocks,
# URL:login:password lines, CSV and JSON Lines exports; and a generated combolist of
# address:password lines), each into a breach of its own, with the operator key (so the
# dump seals its aliases and the logs their address-website pairs). Reports lines/s of
# each, the ratio, and bytes per distinct (address, website) pair in the three sealed files.
# Not a test: numbers go to bench/results/.
#
# Usage: bench/stealer.sh [UNITS]        (default 2000000)
set -euo pipefail
cd "$(dirname "$0")/.."
units=${1:-2000000}
root=$(pwd)
work=$root/bench/work-stealer
. bench/lib.sh
audit_key
apt_need /usr/bin/time time bc bc

cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work" bench/results
trap 'rm -rf "$work"' EXIT
machine_line
export LEAKWATCH_OPERATOR_KEY=$("$bin" operator-key generate) LEAKWATCH_INSECURE_OPERATOR_KEY_ENV=1

"$bin" gen stealer --count "$units" --seed 1 --malformed 5 --out "$work/logs" >/dev/null
"$bin" gen dump --format combo --count "$units" --seed 1 --malformed 5 --out "$work/combo.txt"
logs_bytes=$(du -sb "$work/logs" | cut -f1)
combo_bytes=$(stat -c %s "$work/combo.txt")

run() { # NAME DATA ARGS...: timed import; prints seconds and peak RSS (KiB)
  local name=$1 data=$2; shift 2
  "$bin" breach add --data "$data" --name "$name" --breach-date 2026-01-01 "${@:2}" >/dev/null
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" ingest -q --data "$data" --breach "$name" "$1" >"$work/$name.txt"
  cat "$work/time.txt"
}
read -r combo_s combo_rss < <(run Combo "$work/data-combo" "$work/combo.txt")
read -r stealer_s stealer_rss < <(run Stealer "$work/data-stealer" "$work/logs" --stealer-log)
stealer_lines=$(sed -nE 's/.*: ([0-9]+) lines read.*/\1/p' "$work/Stealer.txt")
combo_lines=$(sed -nE 's/.*: ([0-9]+) lines read.*/\1/p' "$work/Combo.txt")
records=$(sed -nE 's/ *([0-9]+) sealed records of address.*/\1/p' "$work/Stealer.txt")
pairs=$((records / 3))
sealed_bytes=$(du -cb "$work"/data-stealer/store/*stealer-*.alias | tail -1 | cut -f1)
r() { echo "$1 / $2" | bc -l; }
stealer_rate=$(r "$stealer_lines" "$stealer_s")
combo_rate=$(r "$combo_lines" "$combo_s")
printf '\n| units | stealer logs | combolist | stealer / combo | sealed pairs | bytes per pair (3 files) |\n|---:|---:|---:|---:|---:|---:|\n'
printf '| %s | %.0f lines/s (%.1f s, %.0f MB in, %.0f MB RSS) | %.0f lines/s (%.1f s, %.0f MB in, %.0f MB RSS) | %.2f× | %s | %.1f |\n' \
  "$units" "$stealer_rate" "$stealer_s" "$(r "$logs_bytes" 1000000)" "$(r "$stealer_rss" 1024)" \
  "$combo_rate" "$combo_s" "$(r "$combo_bytes" 1000000)" "$(r "$combo_rss" 1024)" \
  "$(r "$stealer_rate" "$combo_rate")" "$pairs" "$(r "$sealed_bytes" "$pairs")"
emit stealer "$(printf '{"scenario":"stealer-ingest","date":"%s","units":%s,"stealer":{"s":%s,"lines_per_s":%.0f,"peak_rss_kb":%s,"input_bytes":%s,"pairs":%s,"sealed_bytes":%s},"combolist":{"s":%s,"lines_per_s":%.0f,"peak_rss_kb":%s,"input_bytes":%s}}' \
  "$(date -u +%FT%TZ)" "$units" "$stealer_s" "$stealer_rate" "$stealer_rss" "$logs_bytes" "$pairs" "$sealed_bytes" \
  "$combo_s" "$combo_rate" "$combo_rss" "$combo_bytes")"
