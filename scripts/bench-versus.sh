#!/usr/bin/env bash
# `npm run bench:versus -- litellm`: installs LiteLLM's proxy (pinned, cached in .cache/litellm-venv
# by scripts/litellm-env.sh) and runs bench/versus.ts on the bench's dev server (scripts/bench.sh).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ "${1:-}" = litellm ] || die "usage: npm run bench:versus -- litellm (the only peer so far)"
LITELLM_BIN="$(bash scripts/litellm-env.sh)"
LITELLM_VERSION="$(sed -n 's/^litellm\[proxy\]==//p' "$(dirname "$(dirname "$LITELLM_BIN")")/.pinned")"
export LITELLM_BIN LITELLM_VERSION
exec bash scripts/bench.sh versus "$@"
