#!/usr/bin/env bash
# The whole suite: unit, integration (a real Temporal dev server and a real worker, SQLite,
# PostgreSQL and Redis), and replay. Starts the services it needs and stops them afterwards.
# Extra arguments go to vitest (e.g. `npm test -- test/routing`).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_node_deps
bash scripts/build.sh --if-needed # dist/: the compiled programs and the prebuilt workflow bundle

TEST_TEMPORAL_PORT="${TEST_TEMPORAL_PORT:-7244}"
started_pg=0
started_redis=0
started_local_model=0
cleanup() {
  stop_started_temporal "temporal-test-$TEST_TEMPORAL_PORT"
  if [ "$started_pg" = 1 ]; then bash scripts/postgres.sh stop >/dev/null 2>&1 || true; fi
  if [ "$started_redis" = 1 ]; then bash scripts/redis.sh stop >/dev/null 2>&1 || true; fi
  if [ "$started_local_model" = 1 ]; then bash scripts/local-model.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# In-memory dev server on its own port, so tests never touch the demo's state.
start_temporal "temporal-test-$TEST_TEMPORAL_PORT" "$TEST_TEMPORAL_PORT" none
export TEST_TEMPORAL_ADDRESS="127.0.0.1:$TEST_TEMPORAL_PORT"
# The testing kit's servers (src/testing, test/testing, examples/testing): the same CLI, and the time-skipping test server.
TEMPORAL_CLI="$(temporal_cli)"; export TEMPORAL_CLI
TEMPORAL_TEST_SERVER="$(temporal_test_server)"; export TEMPORAL_TEST_SERVER
TEST_PYTHON="${TEST_PYTHON:-$(bash scripts/python-env.sh)}"; export TEST_PYTHON # temporalio from PyPI, for the Python client test
CHROMIUM_PATH="$(bash scripts/chromium.sh)"; export CHROMIUM_PATH # headless Chromium for the Web UI test (test/codec-server/web-ui.test.ts); from Debian when missing

if [ -z "${TEST_POSTGRES_URL:-}" ]; then
  if ! bash scripts/postgres.sh status >/dev/null 2>&1; then started_pg=1; fi
  bash scripts/postgres.sh start
  TEST_POSTGRES_URL="$(bash scripts/postgres.sh url)"
  export TEST_POSTGRES_URL
fi

# Redis for the response cache's Redis store (installed from Debian when missing).
if [ -z "${TEST_REDIS_URL:-}" ]; then
  if ! bash scripts/redis.sh status >/dev/null 2>&1; then started_redis=1; fi
  bash scripts/redis.sh start
  TEST_REDIS_URL="$(bash scripts/redis.sh url)"
  export TEST_REDIS_URL
fi

# A real model (llama.cpp's llama-server with SmolLM2-135M) for test/local-model: built once into
# ~/.cache (about 8 minutes on 2 cores the first time), then reused by every clone.
if [ -z "${TEST_LOCAL_MODEL_URL:-}" ]; then
  if ! bash scripts/local-model.sh status >/dev/null 2>&1; then started_local_model=1; fi
  TEST_LOCAL_MODEL_URL="$(bash scripts/local-model.sh start)"
  export TEST_LOCAL_MODEL_URL
fi

log "type check"
npx tsc --noEmit -p tsconfig.json
log "lint"
npx eslint .
log "tests"
npx vitest run "$@"
# The testing kit under Jest too (users on Jest; jest.config.js). The whole suite only, not a selection.
# --experimental-vm-modules: Jest's module sandbox needs it for the dynamic import() of the migration engine.
if [ "$#" -eq 0 ]; then
  log "tests (Jest: the testing kit, test/jest)"
  NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--experimental-vm-modules --no-warnings=ExperimentalWarning" npx jest --ci
fi
