#!/usr/bin/env bash
# Password audit speed: `leakwatch audit` over a generated pwdump export of ACCOUNTS accounts
# (1% of them with a password from the store, the rest random hashes) against a store of
# HASHES NTLM hashes, timed end to end (parse, look up, report). Not a test: numbers go to
# bench/results/.
#
# Usage: bench/audit.sh [HASHES] [ACCOUNTS]     (default 10000000 and 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
hashes=${1:-10000000}
accounts=${2:-1000000}
root=$(pwd)
work=$root/bench/work-audit
. bench/lib.sh
audit_key
cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work"
machine_line

"$bin" gen passwords --format ntlm --count "$hashes" --seed 4 --out "$work/ntlm.txt"
"$bin" ingest -q --data "$work/data" "$work/ntlm.txt"
# Every 100th account uses a stored hash; the others a random one (never in the store).
python3 - "$work/ntlm.txt" "$accounts" >"$work/ntds.txt" <<'PY'
import random, sys
random.seed(4)
stored = []
with open(sys.argv[1]) as f:
    for i, line in enumerate(f):
        if i % 97 == 0:
            stored.append(line.split(":")[0])
        if len(stored) >= 100000:
            break
n = int(sys.argv[2])
out = sys.stdout
for i in range(n):
    h = stored[i // 100 % len(stored)] if i % 100 == 0 else "%032X" % random.getrandbits(128)
    out.write(f"user{i}:{1000 + i}:aad3b435b51404eeaad3b435b51404ee:{h}:::\n")
PY
export_bytes=$(stat -c %s "$work/ntds.txt")
cat "$work/ntds.txt" >/dev/null
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/rss" "$bin" audit --data "$work/data" "$work/ntds.txt" --output csv >"$work/report.csv"
secs=$(echo "$(date +%s.%N) - $start" | bc)
exposed=$(($(wc -l <"$work/report.csv") - 1))
rss=$(cat "$work/rss")
rate=$(echo "$accounts / $secs" | bc)
echo "| accounts | store hashes | exposed found | time | accounts/s | peak RSS |"
echo "|---:|---:|---:|---:|---:|---:|"
printf '| %s | %s | %s | %.2f s | %s | %s MB |\n' "$accounts" "$hashes" "$exposed" "$secs" "$rate" "$((rss / 1024))"
emit audit "{\"scenario\":\"audit\",\"accounts\":$accounts,\"hashes\":$hashes,\"export_bytes\":$export_bytes,\"exposed\":$exposed,\"seconds\":$secs,\"accounts_per_s\":$rate,\"peak_rss_kb\":$rss}"
