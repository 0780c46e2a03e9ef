#!/usr/bin/env bash
# The main job on embedded defaults: install what is missing, start the Temporal dev server
# (SQLite state in .data/, Web UI on), migrate the SQLite database, start a worker, send a sample
# request through the workflow and print the answer, its metadata and its Web UI address.
# Providers without API keys are served by the local provider emulator.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
ensure_node_deps
start_temporal temporal-dev "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$DATA_DIR/temporal.db"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
export TEMPORAL_UI_URL="${TEMPORAL_UI_URL:-http://127.0.0.1:$TEMPORAL_UI_PORT}"
bash scripts/build.sh --if-needed # compiled JavaScript and the prebuilt workflow bundle (skipped when current)
exec node dist/scripts/demo.js "$@"
