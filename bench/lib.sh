# Shared by the bench/ scripts (sourced, not run): package installs, the machine line, a
# throwaway PostgreSQL cluster on loopback, and where a scenario's JSON line goes.
# Deliberately no measuring here: each script times its own scenario.

# apt_need CMD PACKAGE ...: installs the packages of the commands that are missing.
apt_need() {
  local pkgs=()
  while [ $# -ge 2 ]; do
    if ! command -v "$1" >/dev/null && [ ! -x "$1" ]; then
      read -ra more <<<"$2"
      pkgs+=("${more[@]}")
    fi
    shift 2
  done
  if [ ${#pkgs[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
  fi
}

machine_line() {
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
}

# emit NAME JSON: appends the scenario's JSON line to bench/results/NAME-DATE.json and, when
# bench/run.sh drives the script, to its run file.
emit() {
  mkdir -p bench/results
  echo "$2" >>"bench/results/$1-$(date -u +%Y-%m-%d).json"
  if [ -n "${BENCH_JSON:-}" ]; then echo "$2" >>"$BENCH_JSON"; fi
  echo "results appended to bench/results/$1-$(date -u +%Y-%m-%d).json"
}

# pg_start DIR PORT: a fresh PostgreSQL cluster (Debian's newest) on 127.0.0.1:PORT, trust
# auth, 2 GB shared buffers. pg_stop DIR removes it.
pg_start() {
  apt_need pgbench "postgresql postgresql-contrib"
  pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | tail -1)")
  rm -rf "$1" && mkdir -p "$1" && chown postgres "$1"
  runuser -u postgres -- "$pgbin/initdb" -D "$1" -A trust >/dev/null
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$1" -l "$1/log" -w \
    -o "-p $2 -k /tmp -c listen_addresses=127.0.0.1 -c shared_buffers=2GB -c max_connections=64" start >/dev/null
}
pg_stop() {
  [ -n "${pgbin:-}" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$1" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$1"
}

# page_cache_init: can_drop=1 when this user may drop the page cache (root), else 0 and a
# loud note that "cold" figures are warm. drop_page_cache: drops it when it can.
page_cache_init() {
  can_drop=0
  if (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then can_drop=1; fi
  [ "$can_drop" = 1 ] || echo "NOTE: cannot drop the page cache here (not root): 'cold' figures are warm"
}
drop_page_cache() {
  if [ "$can_drop" = 1 ]; then sync && echo 3 >/proc/sys/vm/drop_caches; fi
}

# kv KEY TEXT: the number after KEY= in a line of key=value pairs.
kv() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }

# random_ranges_lua FILE: a wrk script that asks uniformly random /range/XXXXX (a fixed LCG,
# so every run asks the same sequence).
random_ranges_lua() {
  cat >"$1" <<'LUA'
local x = 12345
request = function()
  x = (x * 1103515245 + 12345) % 2147483648
  return wrk.format("GET", string.format("/range/%05X", x % 1048576))
end
LUA
}

# audit_key: a fresh audit key in a private file (mktemp makes it 0600) outside every data
# directory, exported as LEAKWATCH_AUDIT_KEY_FILE: `serve` and the audited commands refuse
# to run without one.
audit_key() {
  LEAKWATCH_AUDIT_KEY_FILE=$(mktemp /tmp/leakwatch-bench-audit-XXXXXX)
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$LEAKWATCH_AUDIT_KEY_FILE"
  export LEAKWATCH_AUDIT_KEY_FILE
}

# bench/ and the soak read far more distinct accounts, prefixes and domains per key than a
# client would: the bulk-extraction watch would mail and (configured so) suspend their keys.
export LEAKWATCH_MAX_ACCOUNT_PREFIXES_PER_HOUR=0 LEAKWATCH_MAX_ACCOUNTS_PER_HOUR=0 \
  LEAKWATCH_MAX_DOMAINS_PER_HOUR=0 LEAKWATCH_MAX_DOMAIN_ANSWER=0

# Stops the processes this shell started (pids; empty ones skipped) and waits for them: a
# leakwatch server seals its audit trail as it shuts down, and removing "$work" under it
# fails ("Directory not empty": the 2026-12-08 large run stopped there).
stop_and_wait() {
  local p
  for p in "$@"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done
  for p in "$@"; do [ -z "$p" ] || wait "$p" 2>/dev/null || true; done
}

# An empty "$work" for a bench that runs a leakwatch server ($server, its pid) beside an nginx
# of "$work/nginx.conf"; on exit both stop and "$work" goes.
fresh_server_work() {
  rm -rf "$work" && mkdir -p "$work" bench/results
  trap server_work_cleanup EXIT
}
server_work_cleanup() {
  stop_and_wait "${server:-}"
  nginx -c "$work/nginx.conf" -p "$work" -s stop 2>/dev/null || true
  rm -rf "$work"
}

# Writes "$work/nginx.conf": nginx on 127.0.0.1:$nport serving "$work/ranges/XXXXX.txt" at
# /range/XXXXX with the headers leakwatch sends, with `sendfile on; tcp_nopush on;` as
# Debian's stock nginx.conf sets them (without them nginx reads each file through 32 KB
# buffers and writes them: a slower peer than anyone deploys, ~1.3x slower at 76 KB
# answers). $1: http-level directives (compression),
# $2: location-level ones, $3: top-level lines (a module to load), $4: open_file_cache max.
nginx_range_conf() {
  cat >"$work/nginx.conf" <<CONF
$3
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  open_file_cache max=$4 inactive=600s;
  open_file_cache_valid 600s;
  keepalive_requests 10000000;
  sendfile on;
  tcp_nopush on;
  $1
  server {
    listen 127.0.0.1:$nport;
    location ~ "^/range/([0-9A-F]{5})\$" {
      alias $work/ranges/\$1.txt;
      default_type text/plain;
      add_header Cache-Control "public, max-age=2678400";
      add_header Access-Control-Allow-Origin "*";
      $2
    }
  }
}
CONF
}
