#!/usr/bin/env bash
# Run a command with the test dev server up (TEST_TEMPORAL_ADDRESS exported), then stop it.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_node_deps
TEST_TEMPORAL_PORT="${TEST_TEMPORAL_PORT:-7244}"
trap 'stop_started_temporal "temporal-test-$TEST_TEMPORAL_PORT"' EXIT
start_temporal "temporal-test-$TEST_TEMPORAL_PORT" "$TEST_TEMPORAL_PORT" none
export TEST_TEMPORAL_ADDRESS="127.0.0.1:$TEST_TEMPORAL_PORT"
TEMPORAL_CLI="$(temporal_cli)"
export TEMPORAL_CLI
"$@"
