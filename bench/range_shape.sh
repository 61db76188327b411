#!/usr/bin/env bash
# The range API at the public corpus's real shape (issue #20): PREFIXES evenly spaced ranges of
# about LINES lines each (the 2-billion-hash corpus holds ~1,900 a range over 1,048,576
# prefixes; this machine holds a few thousand of them), served by leakwatch and by nginx
# (Debian) from the same ranges as static per-prefix files, with precompressed twins for
# nginx's gzip_static (gzip -9) and brotli_static (brotli -q 11). Same client (wrk), same
# connections, servers taking turns, the median of REPEATS runs reported. Not a test.
#
# Two access patterns over the populated prefixes: uniform, and Zipf (s = 1) over a shuffled
# ranking (popular passwords concentrate on some prefixes). leakwatch's range cache holds the
# same share of this corpus as a production cache holds of the real one (1 GB of ~80 GB of
# rendered ranges: 1.25%), so uniform load is mostly misses (rendering) and Zipf load measures
# the cache. Variants: plain, Add-Padding (nginx cannot pad: compared with leakwatch plain),
# gzip, br. Also reported: server CPU µs per request (from /proc, steadier than the rate) and
# leakwatch's largest anonymous RSS against the cache budget + 64 MB.
#
# A second leakwatch serves with its answer tier (`--answer-dir`: every range of the
# generation rendered ahead into a file, plain, gzip and brotli) — the same trade nginx's
# static files and precompressed twins make, disk for CPU — so the table shows both: the
# store alone (rendering every miss) and the store with the tier (the tier's size beside it).
#
# Usage: bench/range_shape.sh PREFIXESxLINES [SECONDS] [CONNECTIONS] [REPEATS]
#        (bench/range.sh 4096x1900 ... comes here). Default 10 s, 64 connections, 3 repeats.
# Env:   LEAKWATCH_BIN=path serves with another build (e.g. an older commit's, for a before/after
#        table; a build without --range-cache serves without one); RANGE_CACHE_SHARE=0.0125.
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:?usage: bench/range_shape.sh PREFIXESxLINES [SECONDS] [CONNECTIONS] [REPEATS]}
prefixes=${shape%x*}
lines=${shape#*x}
secs=${2:-10}
conns=${3:-64}
repeats=${4:-3}
share=${RANGE_CACHE_SHARE:-0.0125}
root=$(pwd)
work=/tmp/leakwatch-bench-range-shape # nginx workers must be able to read it
port=58802
nport=58902

. bench/lib.sh
audit_key
apt_need nginx nginx wrk wrk bc bc curl curl brotli brotli python3 python3
if [ ! -f /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnginx-mod-http-brotli-static >/dev/null
fi
cargo build --release -p leakwatch --locked
gen=$root/target/release/leakwatch
bin=${LEAKWATCH_BIN:-$gen}
fresh_server_work
machine_line

# The same generated corpus as a store and as the downloader's directory (one file a prefix).
"$gen" gen passwords --format sha1 --prefixes "$prefixes" --lines-per-range "$lines" --seed 3 --out "$work/hashes.txt"
"$gen" ingest -q --data "$work/data" "$work/hashes.txt" >/dev/null
rm "$work/hashes.txt"
"$gen" gen passwords --format sha1 --prefixes "$prefixes" --lines-per-range "$lines" --seed 3 --dir --out "$work/ranges"
identity_bytes=$(find "$work/ranges" -type f -name '*.txt' -printf '%s\n' | paste -sd+ | bc)
echo "precompressing $prefixes ranges (gzip -9, brotli -q 11) ..."
find "$work/ranges" -name '*.txt' -print0 | xargs -0 -n 64 -P "$(nproc)" gzip -9 -k
find "$work/ranges" -name '*.txt' -print0 | xargs -0 -n 16 -P "$(nproc)" brotli -q 11 -k
chmod -R a+rX "$work"
find "$work/ranges" -type f -exec cat {} + >/dev/null # page cache warm for nginx (leakwatch maps its store)
budget=$(printf '%.0f' "$(echo "$identity_bytes * $share" | bc -l)")
cache_flag=()
if "$bin" serve --help | grep -- --range-cache >/dev/null; then cache_flag=(--range-cache "$budget"); else budget=0; fi

nginx_range_conf "gzip off; gzip_static on; brotli_static on;" "" \
  "load_module /usr/lib/nginx/modules/ngx_http_brotli_static_module.so;" 100000
nginx -c "$work/nginx.conf" -p "$work"
"$bin" serve --metrics-listen "127.0.0.1:$((port + 1))" "${cache_flag[@]}" --data "$work/data" --listen "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
tport=$((port + 2)) # the tier's server (a build without --answer-dir: none)
tier_server=""
if "$bin" serve --help | grep -- --answer-dir >/dev/null; then
  "$bin" serve --metrics-listen "127.0.0.1:$((tport + 1))" "${cache_flag[@]}" --answer-dir "$work/answers" \
    --data "$work/data" --listen "127.0.0.1:$tport" 2>"$work/serve-tier.log" &
  tier_server=$!
  trap 'stop_and_wait "$tier_server"; server_work_cleanup' EXIT
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$tport/healthz" >/dev/null && break; sleep 0.1; done
  curl -fs "http://127.0.0.1:$tport/range/00000" >/dev/null # starts writing the tier's file
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$((tport + 1))/metrics" | grep -q '^leakwatch_answer_tier_generation{' && break
    sleep 0.5
  done
  curl -fs "http://127.0.0.1:$((tport + 1))/metrics" | grep -q '^leakwatch_answer_tier_generation{' ||
    { echo "the answer tier was not written in 5 minutes" >&2; exit 1; }
  tier_bytes=$(du -sb "$work/answers" | cut -f1)
  store_bytes=$(du -sb "$work/data/store" | cut -f1)
fi

# Both servers must give the same bytes for the same range, in every encoding.
first=$(find "$work/ranges" -name '*.txt' | sort | awk 'NR == 1') # (head would end sort by SIGPIPE)
p=$(basename "$first" .txt)
for enc in identity gzip br; do
  curl -fs -H "Accept-Encoding: $enc" -D "$work/h.n" "http://127.0.0.1:$nport/range/$p" -o "$work/b.n"
  curl -fs -H "Accept-Encoding: $enc" -D "$work/h.l" "http://127.0.0.1:$port/range/$p" -o "$work/b.l"
  if [ -n "$tier_server" ]; then
    curl -fs -H "Accept-Encoding: $enc" "http://127.0.0.1:$tport/range/$p" -o "$work/b.t"
    sides="n l t"
  else
    sides="n l"
  fi
  for s in $sides; do
    case "$enc" in gzip) gzip -dc <"$work/b.$s" >"$work/p.$s" ;; br) brotli -dc <"$work/b.$s" >"$work/p.$s" ;; *) cp "$work/b.$s" "$work/p.$s" ;; esac
  done
  cmp -s "$work/p.n" "$work/p.l" || { echo "range $p ($enc): nginx and leakwatch differ" >&2; exit 1; }
  [ -z "$tier_server" ] || cmp -s "$work/p.n" "$work/p.t" || { echo "range $p ($enc): nginx and leakwatch's tier differ" >&2; exit 1; }
  [ "$enc" = identity ] || grep -qi "content-encoding: $enc" "$work/h.n" || { echo "nginx did not send $enc" >&2; exit 1; }
done

# wrk scripts: the populated prefixes in a table; Zipf picks a rank by binary search of the
# cumulative weights 1/k over a shuffled ranking.
python3 - "$work" <<'PY'
import os, random, sys
work = sys.argv[1]
names = sorted(f[:-4] for f in os.listdir(f"{work}/ranges") if f.endswith(".txt"))
rng = random.Random(7)
ranked = names[:]
rng.shuffle(ranked)
total, cdf = 0.0, []
for k in range(1, len(ranked) + 1):
    total += 1.0 / k
    cdf.append(total)
cdf = [c / total for c in cdf]
table = lambda xs: "{" + ",".join(xs) + "}"
for pattern in ("uniform", "zipf"):
    for variant, header in (("plain", ""), ("padded", '["Add-Padding"] = "true"'),
                            ("gzip", '["Accept-Encoding"] = "gzip"'), ("br", '["Accept-Encoding"] = "br"')):
        with open(f"{work}/{pattern}-{variant}.lua", "w") as f:
            f.write(f"wrk.headers = {{ {header} }}\n")
            if pattern == "uniform":
                f.write(f"local p = {table(repr(n) for n in names)}\n")
                f.write("request = function()\n  return wrk.format('GET', '/range/' .. p[math.random(#p)])\nend\n")
            else:
                f.write(f"local p = {table(repr(n) for n in ranked)}\n")
                f.write(f"local c = {table(f'{x:.9g}' for x in cdf)}\n")
                f.write("request = function()\n  local u, lo, hi = math.random(), 1, #c\n"
                        "  while lo < hi do local m = math.floor((lo + hi) / 2); if c[m] < u then lo = m + 1 else hi = m end end\n"
                        "  return wrk.format('GET', '/range/' .. p[lo])\nend\n")
PY
# wrk seeds math.random per thread from the time: different draws, same distribution.

cpu_ticks() { # pid -> CPU clock ticks used so far by it and its threads; for nginx every worker
  if [ "$1" = nginx ]; then
    pgrep -f "nginx: worker process" | while read -r p; do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | paste -sd+ | bc
  else
    awk '{ print $14 + $15 }' "/proc/$1/stat"
  fi
}
max_anon=0
note_anon() {
  local a
  a=$(awk '/RssAnon/ { print $2 }' "/proc/$server/status")
  [ "$a" -gt "$max_anon" ] && max_anon=$a
  return 0
}
run() { # who (nginx|leakwatch), script -> "rate p50_ms p99_ms server_cpu_us_per_request"
  local t0 t1 n target pid
  case "$1" in
    nginx) target=$nport pid=nginx ;;
    tier) target=$tport pid=$tier_server ;;
    *) target=$port pid=$server ;;
  esac
  t0=$(cpu_ticks "$pid")
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/$2.lua" "http://127.0.0.1:$target" >"$work/wrk.txt"
  t1=$(cpu_ticks "$pid")
  [ "$1" != leakwatch ] || note_anon
  if grep -q 'Non-2xx' "$work/wrk.txt"; then echo "$1 $2: non-2xx answers" >&2; cat "$work/wrk.txt" >&2; exit 1; fi
  n=$(grep -o '[0-9]* requests in' "$work/wrk.txt" | cut -d' ' -f1)
  echo "$(python3 "$root/bench/wrk_stats.py" "$work/wrk.txt") $(echo "($t1 - $t0) * 1000000 / $(getconf CLK_TCK) / $n" | bc -l)"
}
median() { sort -g | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }

# Warm both (nginx's open-file cache, leakwatch's mapped pages and cache), then take turns.
run nginx uniform-plain >/dev/null
run leakwatch uniform-plain >/dev/null
runs=(nginx:plain:plain leakwatch:plain:plain leakwatch:padded:padded nginx:gzip:gzip leakwatch:gzip:gzip nginx:br:br leakwatch:br:br)
[ -z "$tier_server" ] || runs+=(tier:plain:plain tier:gzip:gzip tier:br:br)
[ -z "$tier_server" ] || run tier uniform-plain >/dev/null
for pattern in uniform zipf; do
  for r in "${runs[@]}"; do IFS=: read -r who name _ <<<"$r"; : >"$work/$pattern.$who.$name.runs"; done
  for _ in $(seq 1 "$repeats"); do
    for r in "${runs[@]}"; do
      IFS=: read -r who name script <<<"$r"
      run "$who" "$pattern-$script" >>"$work/$pattern.$who.$name.runs"
    done
  done
done
hits_misses=$(curl -fs "http://127.0.0.1:$((port + 1))/metrics" | awk '/^leakwatch_range_cache_(hits|misses)_total/ { printf "%s=%s ", $1, $2 }')

# The issue's render target (decode and render ≤ 3× a memcpy of the answer) and the range
# code's cost a range, each literal loop this processor runs: on this store, after the load so
# that nothing else shares the cores.
cargo build --release --locked -p leakwatch-store --example range_render
cargo build --release --locked -p leakwatch-api --example range_codings
RANGE_RENDER_ONLY=1 "$root/target/release/examples/range_render" "$work/data/store" 20000 | tee "$work/render.txt"
"$root/target/release/examples/range_codings" "$work/data/store" 1024 | tee "$work/codings.txt"

# Results: one JSON object, then the table from it.
TIER="$tier_server" TIER_BYTES="${tier_bytes:-0}" STORE_BYTES="${store_bytes:-0}" \
python3 - "$work" "$prefixes" "$lines" "$identity_bytes" "$budget" "$max_anon" "$conns" "$secs" "$repeats" "$bin" "$hits_misses" >"$work/result.json" <<'PY'
import json, os, subprocess, sys, time
work, prefixes, lines, ident, budget, anon, conns, secs, repeats, binary, hm = sys.argv[1:]
def med(path):
    rows = sorted([float(x) for x in l.split()] for l in open(path) if l.strip())
    return rows[(len(rows) - 1) // 2]
out = {"scenario": "range-shape", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "prefixes": int(prefixes), "lines_per_range": int(lines), "identity_bytes": int(ident),
       "range_cache_bytes": int(budget), "leakwatch_max_anon_rss_kb": int(anon),
       "connections": int(conns), "seconds": int(secs), "repeats": int(repeats),
       # The version names no commit; the checkout's does (LEAKWATCH_BIN may be another's).
       "leakwatch_build": subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
           + " (checkout " + subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True).stdout.strip() + ")",
       "cache_counters": hm.strip(),
       "fields": ["req_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_req"]}
for pattern in ("uniform", "zipf"):
    out[pattern] = {
        "leakwatch": {v: med(f"{work}/{pattern}.leakwatch.{v}.runs") for v in ("plain", "padded", "gzip", "br")},
        "nginx": {v: med(f"{work}/{pattern}.nginx.{v}.runs") for v in ("plain", "gzip", "br")},
    }
    if os.environ["TIER"]:
        out[pattern]["tier"] = {v: med(f"{work}/{pattern}.tier.{v}.runs") for v in ("plain", "gzip", "br")}
if os.environ["TIER"]:
    out["answer_tier_bytes"] = int(os.environ["TIER_BYTES"])
    out["store_bytes"] = int(os.environ["STORE_BYTES"])
def micros(path, label):  # "LABEL  12.34 µs ..." -> 12.34
    for l in open(path):
        if l.startswith(label + " "):
            return float(l[len(label):].split()[0])
    return None
out["render"] = {
    "decode_and_render_us": micros(f"{work}/render.txt", "decode and render"),
    "memcpy_us": micros(f"{work}/render.txt", "memcpy of an answer"),
    "literal_codes_us": {lp: micros(f"{work}/codings.txt", f"literal codes, {lp}")
                         for lp in ("table", "ssse3", "avx2")},
    "gzip_member_us": micros(f"{work}/codings.txt", "gzip member (best loop, CRC-32)"),
    "brotli_stream_us": micros(f"{work}/codings.txt", "brotli stream (best loop)"),
}
print(json.dumps(out))
PY
python3 - "$work/result.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"\n{s['prefixes']:,} ranges of ~{s['lines_per_range']:,} lines ({s['identity_bytes'] / 1e6:,.0f} MB rendered), "
      f"range cache {s['range_cache_bytes'] / 1e6:.1f} MB, {s['connections']} connections, median of {s['repeats']} × {s['seconds']} s; {s['leakwatch_build']}")
print("| pattern | variant | leakwatch req/s (p50 / p99 ms) | peer | peer req/s | ratio | CPU µs/req (leakwatch / peer) |")
print("|---|---|---:|---|---:|---:|---:|")
for pattern in ("uniform", "zipf"):
    l, n = s[pattern]["leakwatch"], s[pattern]["nginx"]
    for v, peer, label in (("plain", n["plain"], "nginx static"), ("padded", l["plain"], "leakwatch plain"),
                           ("gzip", n["gzip"], "nginx gzip_static"), ("br", n["br"], "nginx brotli_static")):
        a = l[v]
        print(f"| {pattern} | {v} | {a[0]:,.0f} ({a[1]:.2f} / {a[2]:.2f}) | {label} | {peer[0]:,.0f} | {a[0] / peer[0]:.2f}× | {a[3]:.1f} / {peer[3]:.1f} |")
    for v, peer, label in (("plain", n["plain"], "nginx static"), ("gzip", n["gzip"], "nginx gzip_static"),
                           ("br", n["br"], "nginx brotli_static")):
        a = s[pattern].get("tier", {}).get(v)
        if a:
            print(f"| {pattern} | {v}, answer tier | {a[0]:,.0f} ({a[1]:.2f} / {a[2]:.2f}) | {label} | {peer[0]:,.0f} | {a[0] / peer[0]:.2f}× | {a[3]:.1f} / {peer[3]:.1f} |")
r = s["render"]
loops = " / ".join(f"{k} {v:.1f}" for k, v in r["literal_codes_us"].items() if v is not None)
print(f"a range, µs: decode and render {r['decode_and_render_us']:.1f} = {r['decode_and_render_us'] / r['memcpy_us']:.1f}× "
      f"a memcpy of the answer ({r['memcpy_us']:.2f}; target ≤ 3×); range code's literal loops {loops}; "
      f"gzip member {r['gzip_member_us']:.1f}, brotli stream {r['brotli_stream_us']:.1f}")
if "answer_tier_bytes" in s:
    print(f"answer tier: {s['answer_tier_bytes'] / 1e6:,.0f} MB on disk = {s['answer_tier_bytes'] / s['store_bytes']:.1f}× the store ({s['store_bytes'] / 1e6:,.0f} MB); "
          f"nginx's files: {s['identity_bytes'] / 1e6:,.0f} MB plain + their gzip and brotli twins")
print(f"leakwatch anonymous RSS, largest seen: {s['leakwatch_max_anon_rss_kb'] / 1024:.0f} MB (cache budget {s['range_cache_bytes'] / 2**20:.0f} MiB + 64 MiB allowed); {s['cache_counters']}")
PY
emit range-shape "$(cat "$work/result.json")"
