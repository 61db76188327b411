#!/usr/bin/env bash
# Ingest benchmark: generated Pwned Passwords-format SHA-1 files into a fresh store.
# Reports lines/s, the read floor (cat of the same file), bytes per hash against the
# information-theoretic floor, and peak RSS. Not a test: numbers go to bench/results/.
#
# Usage: bench/ingest.sh [COUNT ...]        (default: 1000000 100000000)
# Needs ~50 bytes of disk per line for the input file plus the store.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 0 ] && set -- 1000000 100000000
if [ ! -x /usr/bin/time ] || ! command -v bc >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time bc
fi
cargo build --release -p leakwatch --locked
bin=target/release/leakwatch
work=bench/work
mkdir -p "$work" bench/results
out="bench/results/ingest-$(date -u +%Y-%m-%d).json"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $cpu"
printf '| hashes | input | read floor (cat) | ingest | lines/s | ingest ÷ read | B/hash | floor B/hash | ratio | peak RSS |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for n in "$@"; do
  rm -rf "$work/data" "$work/input.txt"
  "$bin" gen passwords --format sha1 --count "$n" --seed 1 --out "$work/input.txt"
  size=$(stat -c %s "$work/input.txt")
  sync
  t0=$(date +%s.%N); cat "$work/input.txt" > /dev/null; t1=$(date +%s.%N)
  read_s=$(echo "$t1 - $t0" | bc -l)
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" ingest -q --data "$work/data" "$work/input.txt" > "$work/ingest.txt"
  read -r ingest_s rss_kb < "$work/time.txt"
  deep=$("$bin" stats --deep --data "$work/data" | grep 'bytes_per_hash=' | head -1)
  bph=$(sed -E 's/.* bytes_per_hash=([0-9.]+).*/\1/' <<< "$deep")
  fph=$(sed -E 's/.*floor_bytes_per_hash=([0-9.]+).*/\1/' <<< "$deep")
  ratio=$(sed -E 's/.*ratio_to_floor=([0-9.]+).*/\1/' <<< "$deep")
  rate=$(echo "$n / $ingest_s" | bc -l)
  vs_read=$(echo "$ingest_s / $read_s" | bc -l)
  printf '| %s | %.0f MB | %.2f s | %.2f s | %.0f | %.1f× | %s | %s | %s | %.0f MB |\n' \
    "$n" "$(echo "$size/1000000" | bc -l)" "$read_s" "$ingest_s" "$rate" "$vs_read" "$bph" "$fph" "$ratio" "$(echo "$rss_kb/1024" | bc -l)"
  printf '{"date":"%s","hashes":%s,"input_bytes":%s,"read_s":%.4f,"ingest_s":%s,"lines_per_s":%.0f,"bytes_per_hash":%s,"floor_bytes_per_hash":%s,"ratio_to_floor":%s,"peak_rss_kb":%s,"cores":%s,"cpu":"%s"}\n' \
    "$(date -u +%FT%TZ)" "$n" "$size" "$read_s" "$ingest_s" "$rate" "$bph" "$fph" "$ratio" "$rss_kb" "$(nproc)" "$cpu" >> "$out"
done
rm -rf "$work"
echo "results appended to $out"
