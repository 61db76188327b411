#!/usr/bin/env bash
# Sync: what `leakwatch sync` costs to mirror a generated corpus, first sync against an
# incremental one (CHANGED hashes changed at the source) and one against an unchanged
# source: wall time, client CPU, body bytes received, ranges fetched whole, rate.
#
# Sources, all on loopback, all release builds:
#   - a leakwatch over HTTP/1.1 (plain text: 64 keep-alive connections);
#   - the same leakwatch over TLS, where the client speaks HTTP/2 by ALPN (one connection);
#   - nginx serving the corpus as downloader-style per-prefix files over TLS + HTTP/2, gzip
#     on the fly (the way a self-hosted copy of the official downloader's output is served).
# The corpus is spread over all 1,048,576 ranges like the real one, only thinner (HASHES /
# 2^20 lines a range; the public corpus has ~900), so bytes scale with HASHES and the
# request count does not. Not a test: numbers go to bench/results/.
#
# Usage: bench/sync.sh [HASHES] [CHANGED]   (default 20000000 hashes, 2000 changed)
set -euo pipefail
cd "$(dirname "$0")/.."
hashes=${1:-20000000}
changed=${2:-2000}
root=$(pwd)
work=$root/bench/work-sync
port=58451
tls_port=58452
nginx_port=58453

. bench/lib.sh
audit_key
apt_need nginx nginx openssl openssl curl curl

cargo build --release -p leakwatch --locked
bin=$root/target/release/leakwatch
rm -rf "$work" && mkdir -p "$work" bench/results
cleanup() {
  for p in ${plain:-} ${tls:-}; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT
machine_line

# --- the source: HASHES SHA-1 lines, and the same as per-prefix files -------------------
"$bin" gen passwords --count "$hashes" --seed 71 --out "$work/corpus.txt"
"$bin" ingest -q --data "$work/src" "$work/corpus.txt" >/dev/null
"$bin" gen passwords --count "$hashes" --seed 71 --dir --out "$work/files" >/dev/null
: >"$work/files/empty.txt"

# --- a private CA for the TLS sources ---------------------------------------------------
(
  cd "$work"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout srv.key -out srv.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >san.ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out srv.pem 2>/dev/null
)

"$bin" serve --metrics-listen 127.0.0.1:0 --data "$work/src" --listen "127.0.0.1:$port" 2>"$work/plain.log" &
plain=$!
"$bin" serve --metrics-listen 127.0.0.1:0 --data "$work/src" --listen "127.0.0.1:$tls_port" \
  --tls-cert "$work/srv.pem" --tls-key "$work/srv.key" 2>"$work/tls.log" &
tls=$!
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$nginx_port ssl http2;
    ssl_certificate $work/srv.pem;
    ssl_certificate_key $work/srv.key;
    root $work/files;
    gzip on; gzip_types text/plain; gzip_min_length 20;
    location ~ "^/range/([0-9A-F]{5})\$" { default_type text/plain; try_files /\$1.txt /empty.txt; }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
sleep 0.5

# run LABEL MIRROR URL [ARGS...]: one sync, timed; prints a table row and keeps a JSON row.
rows=()
run() {
  local label=$1 mirror=$2 url=$3
  shift 3
  /usr/bin/time -f '%e %U %S' -o "$work/time.txt" \
    "$bin" sync -q --json --data "$mirror" --from "$url" "$@" >"$work/report.json"
  read -r wall user sys <"$work/time.txt"
  read -r fetched whole bytes published h2 < <(python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))[0]
print(r["fetched"], r["fetched"] - r["not_modified"], r["bytes"],
      "yes" if r["published_generation"] is not None else "no", r["http2"])
PY
)
  local rate
  rate=$(echo "$fetched / $wall" | bc)
  printf '%-38s %8s s %7s s %12s B %9s %9s req/s  h2 %-8s published %s\n' \
    "$label" "$wall" "$(echo "$user + $sys" | bc)" "$bytes" "$whole" "$rate" "$h2" "$published"
  rows+=("{\"sync\":\"$label\",\"wall_s\":$wall,\"cpu_s\":$(echo "$user + $sys" | bc),\"bytes\":$bytes,\"ranges_whole\":$whole,\"req_per_s\":$rate,\"http2\":$h2,\"published\":\"$published\"}")
}

echo "corpus: $hashes hashes ($(du -h "$work/corpus.txt" | cut -f1) as text), then $changed changed"
printf '%-38s %10s %9s %14s %9s %15s\n' sync wall "cpu(client)" "body bytes" "whole" rate
run "leakwatch http/1.1: first"      "$work/m1" "http://127.0.0.1:$port"
run "leakwatch http/1.1: unchanged"  "$work/m1" "http://127.0.0.1:$port"
run "leakwatch tls+h2: first"        "$work/m2" "https://127.0.0.1:$tls_port" --ca-cert "$work/ca.pem"
run "nginx files tls+h2+gzip: first" "$work/m3" "https://127.0.0.1:$nginx_port" --ca-cert "$work/ca.pem"
run "nginx files tls+h2: unchanged"  "$work/m3" "https://127.0.0.1:$nginx_port" --ca-cert "$work/ca.pem"

# CHANGED hashes change at the source: half new, half seen again with higher counts.
"$bin" gen passwords --count $((changed / 2)) --seed 72 --out "$work/change.txt"
awk -v n=$((changed / 2)) 'NR % 1000 == 1 && c++ < n { split($0, f, ":"); print f[1] ":5" }' \
  "$work/corpus.txt" >>"$work/change.txt"
"$bin" ingest -q --data "$work/src" "$work/change.txt" >/dev/null
sleep 1.5 # the servers poll the manifest every 0.5 s
run "leakwatch http/1.1: incremental"  "$work/m1" "http://127.0.0.1:$port"
run "leakwatch tls+h2: incremental"    "$work/m2" "https://127.0.0.1:$tls_port" --ca-cert "$work/ca.pem"

# The mirrors must equal the source, range for range (their stores' answers, by curl).
for p in 00000 5BAA6 ABCDE FFFFF; do
  want=$(curl -s "http://127.0.0.1:$port/range/$p" | md5sum)
  for m in m1 m2; do
    "$bin" serve --metrics-listen 127.0.0.1:0 --data "$work/$m" --listen 127.0.0.1:58459 2>/dev/null &
    s=$!
    for _ in $(seq 1 100); do curl -fs http://127.0.0.1:58459/healthz >/dev/null && break; sleep 0.05; done
    got=$(curl -s "http://127.0.0.1:58459/range/$p" | md5sum)
    kill $s; wait $s 2>/dev/null || true
    [ "$want" = "$got" ] || { echo "MISMATCH: $m range $p"; exit 1; }
  done
done
echo "mirrors m1, m2 answer ranges identically to the source"
du -sh "$work/m1/store" | xargs echo "mirror store:"

json_rows=$(IFS=,; echo "${rows[*]}")
emit sync "{\"scenario\":\"sync\",\"date\":\"$(date -u +%FT%TZ)\",\"hashes\":$hashes,\"changed\":$changed,\"runs\":[$json_rows]}"
