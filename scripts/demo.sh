#!/usr/bin/env bash
# The main job on embedded defaults: install what is missing, start the Temporal dev server
# (SQLite state in .data/, Web UI on), migrate the SQLite database, start a worker, send a sample
# request through the workflow and print the answer, its metadata and its Web UI address.
# Providers without API keys are served by the local provider emulator; with --local-model a real
# local model (scripts/local-model.sh) answers instead.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
ensure_node_deps
start_temporal temporal-dev "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$DATA_DIR/temporal.db"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
export TEMPORAL_UI_URL="${TEMPORAL_UI_URL:-http://127.0.0.1:$TEMPORAL_UI_PORT}"
bash scripts/build.sh --if-needed # compiled JavaScript and the prebuilt workflow bundle (skipped when current)

# --local-model: a real model (llama.cpp's llama-server with SmolLM2-135M; built once into ~/.cache,
# about 8 minutes on 2 cores) answers instead of the configured providers. Stopped at the end only
# if this run started it.
for arg in "$@"; do
  if [ "$arg" = --local-model ]; then
    started_local_model=0
    bash scripts/local-model.sh status >/dev/null 2>&1 || started_local_model=1
    LOCAL_MODEL_URL="$(bash scripts/local-model.sh start)"
    export LOCAL_MODEL_URL
    if [ "$started_local_model" = 1 ]; then trap 'bash scripts/local-model.sh stop >/dev/null 2>&1 || true' EXIT; fi
    node dist/scripts/demo.js "$@"
    exit $?
  fi
done
exec node dist/scripts/demo.js "$@"
