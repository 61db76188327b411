#!/usr/bin/env bash
# The private check must not tell a breached address from an unbreached one: not in the
# response bytes, and not in its time. Sends N checks of each kind, interleaved at random,
# over one keep-alive connection to the release binary (a real SMTP sink, aiosmtpd, takes
# the mails), and reports whether every response was byte-identical (Date aside), the
# latency median and p99 of each kind, and their ratio. Not a test: numbers go to
# bench/results/.
#
# Usage: bench/private_check.sh [N]     (default 2000 of each kind)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
root=$(pwd)
work=$root/bench/work-private-check
. bench/lib.sh
audit_key
python3 -c 'import aiosmtpd' 2>/dev/null || pip install -q -r tests/py/requirements.txt
cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work"
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  [ -n "${sink:-}" ] && kill "$sink" 2>/dev/null || true
}
trap cleanup EXIT
machine_line

# The key in the environment: the documented test setting (a deployment uses a key file).
export LEAKWATCH_DATA=$work/data LEAKWATCH_OPERATOR_KEY=$("$bin" operator-key generate) LEAKWATCH_INSECURE_OPERATOR_KEY_ENV=1
"$bin" gen dump --format combo --count 100000 --seed 3 --out "$work/dump.txt"
"$bin" breach add --name Benchbank --breach-date 2024-01-01 >/dev/null
"$bin" ingest -q --breach Benchbank "$work/dump.txt" >/dev/null
# Breached: addresses of the dump; unbreached: the same shapes on a domain nobody used.
awk -F: -v n="$n" 'NR <= n && $1 ~ /@/ { print $1 }' "$work/dump.txt" >"$work/breached.txt"
sed 's/@.*/@nobody-breached.test/' "$work/breached.txt" >"$work/clean.txt"

smtp_port=58525
sleep infinity | python3 tests/py/smtp_sink.py "$smtp_port" "$work/mail.jsonl" >/dev/null &
sink=$!
sleep 1
"$bin" serve --metrics-listen 127.0.0.1:0 --listen 127.0.0.1:58480 --smtp-url "smtp://127.0.0.1:$smtp_port" \
  --check-limit-per-ip 1000000 --check-limit-per-address 1000 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:58480/healthz >/dev/null && break; sleep 0.1; done

result=$(python3 - "$work/breached.txt" "$work/clean.txt" <<'PY'
import http.client, json, random, statistics, sys, time
kinds = {k: open(p).read().split() for k, p in (("breached", sys.argv[1]), ("clean", sys.argv[2]))}
order = [(k, a) for k, addrs in kinds.items() for a in addrs]
random.seed(1)
random.shuffle(order)
conn = http.client.HTTPConnection("127.0.0.1", 58480)
times = {"breached": [], "clean": []}
answers = {"breached": set(), "clean": set()}
for kind, addr in order:
    body = json.dumps({"email": addr})
    t = time.perf_counter_ns()
    conn.request("POST", "/api/v1/check-by-mail", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    times[kind].append((time.perf_counter_ns() - t) / 1000)
    headers = tuple(sorted((k.lower(), v) for k, v in r.getheaders() if k.lower() != "date"))
    if r.status != 202:
        times[kind].pop()  # a malformed generated address: 400, not a check
    answers[kind].add((r.status, headers, data))
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(len(v) * p))]
accepted = {k: {a for a in v if a[0] == 202} for k, v in answers.items()}
out = {
    "distinct_accepted_answers": len(accepted["breached"] | accepted["clean"]),
    "statuses": sorted({a[0] for v in answers.values() for a in v}),
}
for k, v in times.items():
    out[k] = {"n": len(v), "p50_us": round(statistics.median(v), 1), "p99_us": round(pct(v, 0.99), 1)}
out["p50_ratio"] = round(out["breached"]["p50_us"] / out["clean"]["p50_us"], 3)
print(json.dumps(out))
PY
)
echo "$result"
python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| kind | checks | p50 | p99 |\n|---|---:|---:|---:|")
for k in ("breached", "clean"):
    print(f"| {k} | {r[k]['n']} | {r[k]['p50_us']} µs | {r[k]['p99_us']} µs |")
print(f"distinct 202 responses (Date aside): {r['distinct_accepted_answers']} (statuses seen: {r['statuses']}); breached ÷ clean median: {r['p50_ratio']}×")
PY
emit private_check "{\"scenario\":\"private_check\",\"n\":$n,\"result\":$result}"
