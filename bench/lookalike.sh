#!/usr/bin/env bash
# Look-alike generation speed: `leakwatch lookalike generate` (release binary, whole process)
# against the real dnstwist's Fuzzer (PyPI, in one Python process, so its start-up is not
# counted) for the same domains and fuzzers. Reports variants/s of each and the ratio. Not a
# test: numbers go to bench/results/.
#
# Usage: bench/lookalike.sh [ROUNDS]     (default 20 per domain)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
. bench/lib.sh
audit_key
python3 -c 'import dnstwist' 2>/dev/null || pip install -q -r tests/py/requirements.txt
cargo build --release -p leakwatch --locked
bin=$(pwd)/target/release/leakwatch
machine_line
domains="paypal.com acme-bank.co.uk mail.fictobank.example.com xn--bcher-kva.de example.info shop-online.net"

ours=$(python3 - "$bin" "$rounds" $domains <<'PY'
import subprocess, sys, time, json
bin, rounds, domains = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
total_v = 0
t = time.perf_counter()
for _ in range(rounds):
    for d in domains:
        out = subprocess.run([bin, "lookalike", "generate", d, "--json"], capture_output=True, check=True).stdout
        total_v += len(json.loads(out))
print(json.dumps({"seconds": time.perf_counter() - t, "variants": total_v}))
PY
)
theirs=$(python3 - "$rounds" $domains <<'PY'
import sys, time, json
from dnstwist import Fuzzer
rounds, domains = int(sys.argv[1]), sys.argv[2:]
total_v = 0
t = time.perf_counter()
for _ in range(rounds):
    for d in domains:
        f = Fuzzer(d)
        f.generate()
        total_v += len(f.domains)
print(json.dumps({"seconds": time.perf_counter() - t, "variants": total_v}))
PY
)
python3 - "$ours" "$theirs" <<'PY'
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ro, rt = o["variants"] / o["seconds"], t["variants"] / t["seconds"]
print("| generator | variants | time | variants/s |\n|---|---:|---:|---:|")
print(f"| leakwatch (a process per domain) | {o['variants']} | {o['seconds']:.2f} s | {ro:,.0f} |")
print(f"| dnstwist Fuzzer (in-process) | {t['variants']} | {t['seconds']:.2f} s | {rt:,.0f} |")
print(f"leakwatch ÷ dnstwist: {ro / rt:.1f}×")
PY
emit lookalike "{\"scenario\":\"lookalike\",\"rounds\":$rounds,\"leakwatch\":$ours,\"dnstwist\":$theirs}"
