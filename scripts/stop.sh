#!/usr/bin/env bash
# Stop the dev server the demo started and the codec server started with it (its state stays in
# .data/temporal.db).
source "$(dirname "$0")/lib.sh"
stop_temporal temporal-dev
log "stopped"
