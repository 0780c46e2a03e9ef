#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite, on a loopback port, under .data/postgres-test
# (or, when the server's user cannot reach the clone, a folder of its own under /var/tmp: below).
#
#   bash scripts/postgres.sh start   # install (Debian, root) if needed, init once, start; idempotent
#   bash scripts/postgres.sh stop
#   bash scripts/postgres.sh url     # postgresql://postgres:<pw>@127.0.0.1:<port>/orchestrator_test
#   bash scripts/postgres.sh status
#
# Environment: PGPORT (default 55432), PG_BIN (folder holding initdb/pg_ctl; default: newest
# /usr/lib/postgresql/*/bin, then PATH), POSTGRES_TEST_DIR (default: see below).
# As root the server runs as the `postgres` user (PostgreSQL refuses to run as root); as any
# other user it runs as that user.
#
# Where the cluster lives: <repo>/.data/postgres-test, unless this runs as root and the `postgres`
# user cannot enter <repo>/.data (a clone inside a private home folder, mode 700): then
# /var/tmp/temporal-llm-orchestrator-postgres-<hash of the clone's path> (owned by postgres,
# mode 700), so two clones never share a cluster. `status` prints the folder in use.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PGPORT:-55432}"
DB_NAME="orchestrator_test"
DB_USER="postgres"
# Loopback only and throwaway: a fixed password is fine, and lets tests exercise real authentication.
DB_PASSWORD="orchestrator"

die() { echo "postgres.sh: $*" >&2; exit 1; }
log() { echo "postgres.sh: $*" >&2; }

# The cluster's folder (sets DIR, DATA, LOG); see the header.
resolve_dir() {
  if [[ -n "${POSTGRES_TEST_DIR:-}" ]]; then
    DIR="$POSTGRES_TEST_DIR"
  elif [[ "$(id -u)" != "0" ]] || ! id postgres >/dev/null 2>&1; then
    DIR="$ROOT/.data/postgres-test"
  else
    mkdir -p "$ROOT/.data"
    if (cd / && runuser -u postgres -- test -x "$ROOT/.data"); then
      DIR="$ROOT/.data/postgres-test"
    else
      local base="/var/tmp"
      [[ -d "$base" ]] || base="/tmp"
      DIR="$base/temporal-llm-orchestrator-postgres-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
    fi
  fi
  DATA="$DIR/data"
  LOG="$DIR/postgres.log"
}

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    [[ -x "$PG_BIN/pg_ctl" && -x "$PG_BIN/initdb" ]] || die "PG_BIN=$PG_BIN has no pg_ctl/initdb"
    echo "$PG_BIN"; return 0
  fi
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/pg_ctl" && -x "$d/initdb" ]] && best="$d"
  done
  if [[ -z "$best" ]] && command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    best="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
  fi
  [[ -n "$best" ]] && echo "$best"
  return 0
}

install_postgres() {
  if [[ "$(id -u)" != "0" ]]; then
    die "PostgreSQL (initdb/pg_ctl) not found, and installing it needs root.
  Install it yourself (Debian/Ubuntu: sudo apt-get install -y postgresql), or set PG_BIN to the folder holding initdb and pg_ctl."
  fi
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL not found and apt-get is unavailable: install PostgreSQL, or set PG_BIN"
  log "installing PostgreSQL with apt-get (one time)..."
  # Do not let the package create and start its own 'main' cluster on port 5432.
  mkdir -p /etc/postgresql-common
  if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  fi
}

# Run a PostgreSQL server binary as the user that owns the cluster.
as_owner() {
  if [[ "$(id -u)" == "0" ]]; then
    # From / : the working directory (the clone) may be out of the postgres user's reach.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

running_port() {
  # postmaster.pid line 4 is the port of the running server.
  if [[ -f "$DATA/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    sed -n 4p "$DATA/postmaster.pid"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

psql_admin() {
  PGPASSWORD="$DB_PASSWORD" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U "$DB_USER" -d postgres "${@:2}"
}

url_for() {
  echo "postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$1/$DB_NAME"
}

cmd_start() {
  BIN="$(find_bin)"
  if [[ -z "$BIN" ]]; then
    install_postgres
    BIN="$(find_bin)"
    [[ -n "$BIN" ]] || die "PostgreSQL was installed but initdb/pg_ctl are still not found under /usr/lib/postgresql/*/bin"
  fi

  resolve_dir
  mkdir -p "$DIR"
  if [[ "$(id -u)" == "0" ]]; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (it comes with Debian's postgresql package)"
    chown postgres: "$DIR"
    [[ "$DIR" == "$ROOT/.data/postgres-test" ]] || chmod 700 "$DIR"
    # The server user must be able to reach the folder.
    local p="$DIR"
    while [[ "$p" != "/" ]]; do
      p="$(dirname "$p")"
      runuser -u postgres -- test -x "$p" || die "user 'postgres' cannot enter $p; set POSTGRES_TEST_DIR to a folder it can reach"
    done
  fi

  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initializing a cluster in $DATA"
    rm -rf "$DATA"
    local pwfile="$DIR/.pwfile"
    printf '%s\n' "$DB_PASSWORD" > "$pwfile"
    [[ "$(id -u)" == "0" ]] && chown postgres: "$pwfile"
    as_owner "$BIN/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$pwfile" --auth-host=scram-sha-256 --auth-local=trust \
      -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 || { rm -f "$pwfile"; die "initdb failed; see $DIR/initdb.log"; }
    rm -f "$pwfile"
  fi

  local current
  current="$(running_port)"
  if [[ -n "$current" ]]; then
    [[ "$current" == "$PORT" ]] || log "already running on port $current (not $PORT); stop it first to change ports"
    PORT="$current"
  else
    if port_in_use "$PORT"; then
      die "port $PORT on 127.0.0.1 is already in use by another process; choose another with PGPORT=<port>"
    fi
    [[ "$(id -u)" == "0" ]] && { touch "$LOG"; chown postgres: "$LOG"; }
    # TCP on loopback only; no Unix socket (its default folder may not exist or be writable).
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
      -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >/dev/null \
      || die "the server did not start; see $LOG"
  fi

  if [[ "$(psql_admin "$PORT" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]]; then
    psql_admin "$PORT" -c "CREATE DATABASE $DB_NAME"
  fi
  log "PostgreSQL $("$BIN/pg_ctl" --version | awk '{print $3}') ready on 127.0.0.1:$PORT"
}

cmd_stop() {
  BIN="$(find_bin)"
  resolve_dir
  [[ -n "$BIN" ]] || { log "PostgreSQL is not installed; nothing to stop"; return 0; }
  if [[ -n "$(running_port)" ]]; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    log "stopped"
  else
    log "not running"
  fi
}

cmd_url() {
  BIN="$(find_bin)"
  resolve_dir
  local current=""
  [[ -n "$BIN" ]] && current="$(running_port)"
  url_for "${current:-$PORT}"
}

cmd_status() {
  BIN="$(find_bin)"
  resolve_dir
  local current=""
  [[ -n "$BIN" ]] && current="$(running_port)"
  if [[ -n "$current" ]]; then
    echo "running on 127.0.0.1:$current ($DATA)"
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
  *) die "usage: bash scripts/postgres.sh start|stop|url|status" ;;
esac
