#!/usr/bin/env bash
# A throwaway Redis for the test suite (the response cache's Redis store), under .data/redis-test,
# on a loopback port.
#
#   bash scripts/redis.sh start    # install (Debian, root) if needed, start; idempotent
#   bash scripts/redis.sh stop
#   bash scripts/redis.sh url      # redis://127.0.0.1:<port>
#   bash scripts/redis.sh status
#
# Environment: REDIS_TEST_PORT (default 56379), REDIS_SERVER (the redis-server binary; default
# from PATH, then /usr/bin), REDIS_TEST_DIR (default <repo>/.data/redis-test).
# Nothing is persisted: no RDB snapshots, no AOF. Loopback only, no password: test data only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${REDIS_TEST_DIR:-$ROOT/.data/redis-test}"
PORT="${REDIS_TEST_PORT:-56379}"
PIDFILE="$DIR/redis.pid"
LOG="$DIR/redis.log"

die() { echo "redis.sh: $*" >&2; exit 1; }
log() { echo "redis.sh: $*" >&2; }

find_server() {
  if [[ -n "${REDIS_SERVER:-}" ]]; then
    [[ -x "$REDIS_SERVER" ]] || die "REDIS_SERVER=$REDIS_SERVER is not an executable"
    echo "$REDIS_SERVER"; return 0
  fi
  if command -v redis-server >/dev/null 2>&1; then command -v redis-server; return 0; fi
  [[ -x /usr/bin/redis-server ]] && echo /usr/bin/redis-server
  return 0
}

install_redis() {
  if [[ "$(id -u)" != "0" ]]; then
    die "redis-server not found, and installing it needs root.
  Install it yourself (Debian/Ubuntu: sudo apt-get install -y redis-server), or set REDIS_SERVER to the binary."
  fi
  command -v apt-get >/dev/null 2>&1 || die "redis-server not found and apt-get is unavailable: install Redis, or set REDIS_SERVER"
  log "installing Redis with apt-get (one time)..."
  # policy-rc.d: the package must not start its own system-wide server on port 6379.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
  fi
  local ok=0
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; then
    ok=1
  else
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null && ok=1
  fi
  [[ "$created_policy" == 1 ]] && rm -f "$policy"
  [[ "$ok" == 1 ]] || die "apt-get install redis-server failed"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The PID in the pidfile, when that process is alive.
running_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 0
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
  return 0
}

# PING over a raw socket (no redis-cli needed): prints PONG when a Redis answers on the port.
ping_port() {
  local reply=""
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [[ "${reply%$'\r'}" == "+PONG" ]]
}

cmd_start() {
  local server
  server="$(find_server)"
  if [[ -z "$server" ]]; then
    install_redis
    server="$(find_server)"
    [[ -n "$server" ]] || die "Redis was installed but redis-server is still not found"
  fi
  mkdir -p "$DIR"

  if [[ -n "$(running_pid)" ]]; then
    ping_port "$PORT" || die "a Redis started by this script runs (pid $(running_pid)) but does not answer on port $PORT; run: bash scripts/redis.sh stop"
    log "already running on 127.0.0.1:$PORT"
    return 0
  fi
  if port_in_use "$PORT"; then
    die "port $PORT on 127.0.0.1 is already in use by another process; choose another with REDIS_TEST_PORT=<port>"
  fi
  "$server" --port "$PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$PIDFILE" --logfile "$LOG" \
    --dir "$DIR" --save '' --appendonly no >/dev/null || die "redis-server did not start; see $LOG"
  local i
  for i in $(seq 1 50); do
    if ping_port "$PORT" 2>/dev/null; then
      log "Redis $("$server" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') ready on 127.0.0.1:$PORT"
      return 0
    fi
    sleep 0.1
  done
  die "Redis did not answer on port $PORT within 5 s; see $LOG"
}

cmd_stop() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then log "not running"; return 0; fi
  kill "$pid"
  local i
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; log "stopped"; return 0; }
    sleep 0.1
  done
  die "Redis (pid $pid) did not stop within 5 s"
}

cmd_url() {
  echo "redis://127.0.0.1:$PORT"
}

cmd_status() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]] && ping_port "$PORT" 2>/dev/null; then
    echo "running on 127.0.0.1:$PORT (pid $pid)"
  else
    echo "not running"
    return 3
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) cmd_url ;;
  status) cmd_status ;;
  *) die "usage: bash scripts/redis.sh start|stop|url|status" ;;
esac
