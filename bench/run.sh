#!/usr/bin/env bash
# Every benchmark scenario in one run, peers measured alongside leakwatch on this machine,
# then the figures and tables of docs/BENCHMARKS.md rebuilt from the results.
#
#   bench/run.sh small   about 15 minutes once built (855 s on 2026-12-08; a first build adds ~7 min): range (10M hashes, 5 s runs; 1,024 ranges of
#                        ~1,900 lines, 3 s runs; the range cache's memory at 64 MiB),
#                        accounts (1M lines), ingest (10M),
#                        stealer logs against combolists (1M units), credential checks,
#                        single-password lookup (10M), scale (10M)
#   bench/run.sh large   range and accounts at 10M with 10 s runs, range at the real shape
#                        (4,096 ranges of ~1,900 and of ~950 lines), the range cache's
#                        memory at a 1 GiB budget, ingest at 10M and 100M,
#                        stealer logs against combolists at 10M units, lookup at 10M, scale at 10M and 1,000,000,000 (about 45 GB of disk
#                        while ingesting; well over an hour)
#
# Installs the peers (nginx, wrk, PostgreSQL, ripgrep, passwdqc, bsdextrautils from Debian;
# duckdb and pwnedpasswords-offline from PyPI) where missing. Every server listens on
# loopback; every load run is bounded in time. Writes bench/results/DATE-MODE.json (the
# machine, then one object per scenario) and, with bench/report.py, the tables, figures and
# ratios: into the run section of docs/BENCHMARKS.md for `large`, into
# bench/results/small/report.md for `small`. Each scenario script also runs on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-small}
case "$mode" in small | large) ;; *) echo "usage: bench/run.sh [small|large]" >&2; exit 2 ;; esac
. bench/lib.sh
apt_need curl curl bc bc python3 python3
started=$(date +%s)
stamp=$(date -u +%Y-%m-%dT%H%MZ)
out=bench/results/$stamp-$mode.json
export BENCH_JSON
BENCH_JSON=$(mktemp)
# Where the run's time went: "SECONDS COMMAND" a line, the build first (it is in the total).
steps=$(mktemp)
trap 'rm -f "$BENCH_JSON" "$steps"' EXIT
cargo build --release -p leakwatch --locked
echo "$(($(date +%s) - started)) cargo build --release -p leakwatch" >>"$steps"
machine_line

step() {
  local t0
  t0=$(date +%s)
  echo; echo "=== $* ($((t0 - started)) s in)"
  "$@"
  echo "$(($(date +%s) - t0)) $*" >>"$steps"
}
if [ "$mode" = small ]; then
  step bench/range.sh 10000000 5 16 3
  step bench/range.sh 1024x1900 3 64 3
  step bench/range_cache_memory.sh 4096x950 64M 5
  step bench/accounts.sh 1000000 5
  step bench/ingest.sh 10000000
  step bench/stealer.sh 1000000
  step bench/credentials.sh 100000 200 64
  step bench/lookup.sh 10000000 2000
  step bench/scale.sh 10000000 5
else
  step bench/range.sh 10000000 10 16 3
  step bench/range.sh 4096x1900 10 64 3
  step bench/range.sh 4096x950 10 64 3
  step bench/range_cache_memory.sh 65536x950 1G 10
  step bench/accounts.sh 10000000 10
  step bench/ingest.sh 10000000 100000000
  step bench/stealer.sh 10000000
  step bench/credentials.sh 1000000 300 64
  step bench/lookup.sh 10000000 2000
  step bench/scale.sh 10000000 10
  step bench/scale.sh 1000000000 10
fi

python3 - "$BENCH_JSON" "$out" "$mode" "$(($(date +%s) - started))" "$steps" <<'PY'
import json, os, sys
lines, out, mode, elapsed, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
cpu = {}
for line in open("/proc/cpuinfo"):
    k, _, v = line.partition(":")
    cpu.setdefault(k.strip(), v.strip())
flags = [f for f in cpu.get("flags", "").split() if f in
         ("sse4_2", "avx", "avx2", "avx512f", "bmi1", "bmi2", "popcnt", "sha_ni", "aes", "pclmulqdq")]
run = {
    "command": f"bench/run.sh {mode}",
    "date": os.popen("date -u +%FT%TZ").read().strip(),
    "file": out,
    "elapsed_s": elapsed,
    "steps": [{"command": c, "seconds": int(t)} for t, _, c in
              (l.rstrip("\n").partition(" ") for l in open(steps) if l.strip())],
    "machine": {
        "cores": os.cpu_count(),
        "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "cpu": cpu.get("model name", "?"),
        "flags": " ".join(flags),
        "kernel": os.uname().release,
    },
    "scenarios": [json.loads(l) for l in open(lines) if l.strip()],
}
json.dump(run, open(out, "w"), indent=1)
print(f"{len(run['scenarios'])} scenarios in {elapsed} s -> {out}")
PY
# docs/BENCHMARKS.md holds the latest full (large) run; a small run reports beside its results.
if [ "$mode" = large ]; then
  python3 bench/report.py "$out" docs/BENCHMARKS.md
else
  python3 bench/report.py "$out" bench/results/small/report.md
fi
echo "bench/run.sh $mode: $(($(date +%s) - started)) s"
