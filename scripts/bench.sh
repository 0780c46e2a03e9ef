#!/usr/bin/env bash
# Run a benchmark: `bash scripts/bench.sh overhead`. Starts its own in-memory dev server
# (headless, port 7255 unless BENCH_TEMPORAL_PORT) and stops it afterwards.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
name="${1:?usage: bench.sh <name>}"; shift
ensure_node_deps
BENCH_TEMPORAL_PORT="${BENCH_TEMPORAL_PORT:-7255}"
trap 'stop_started_temporal "temporal-bench-$BENCH_TEMPORAL_PORT"' EXIT
start_temporal "temporal-bench-$BENCH_TEMPORAL_PORT" "$BENCH_TEMPORAL_PORT" none
export TEMPORAL_ADDRESS="127.0.0.1:$BENCH_TEMPORAL_PORT"
npx tsx "bench/$name.ts" "$@"
