#!/usr/bin/env bash
# Runs one example application, examples/<name>/main.ts (npm run example:<name>), with a worker in
# its own process. Uses the Temporal dev server answering on TEMPORAL_PORT (default 7233, the
# demo's), or starts one (headless, state in .data/temporal.db) and stops it when the example ends:
# only a server this run started is stopped. Extra arguments go to the example.
#
#   bash scripts/example.sh code-generator --language go
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
name="${1:-}"
[ -n "$name" ] && [ -f "examples/$name/main.ts" ] || die "usage: scripts/example.sh <name> [options]; <name> is a folder of examples/ with a main.ts (got \"$name\")"
shift
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
ensure_node_deps
trap 'stop_started_temporal temporal-example' EXIT
start_temporal temporal-example "$TEMPORAL_PORT" none "$DATA_DIR/temporal.db"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
bash scripts/build.sh --if-needed # the prebuilt workflow bundle the worker starts from (skipped when current)
node_modules/.bin/tsx "examples/$name/main.ts" "$@"
