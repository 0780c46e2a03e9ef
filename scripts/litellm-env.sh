#!/usr/bin/env bash
# A Python virtual environment with LiteLLM's proxy (PyPI `litellm[proxy]`, pinned) for
# `npm run bench:versus -- litellm`. Created once in .cache/litellm-venv and reused while the pinned
# version matches (a first install downloads ~100 MB and takes a few minutes). Prints the path of
# the venv's `litellm` command. Pinned to 1.106.12: the `proxy` extras of 1.108.14 and 1.110.2 pin
# litellm-proxy-extras 0.4.110.post1 / litellm-proxy 1.110.2, which PyPI does not serve (checked
# with pip); 1.106.12's resolve. The extra's own dependencies are ranges, resolved by pip.
source "$(dirname "$0")/lib.sh"
LITELLM_VERSION="${LITELLM_VERSION:-1.106.12}"
venv="$CACHE_DIR/litellm-venv"
want="litellm[proxy]==$LITELLM_VERSION"
if [ ! -x "$venv/bin/litellm" ] || [ "$(cat "$venv/.pinned" 2>/dev/null)" != "$want" ]; then
  log "installing LiteLLM's proxy from PyPI into $venv: $want (a few minutes the first time)"
  if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv" >&2 || die "python3 -m venv failed: install Python 3 with venv (Debian: python3-venv)"; fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$want" >&2 || die "pip install $want failed (is PyPI reachable?)"
  echo "$want" >"$venv/.pinned"
fi
echo "$venv/bin/litellm"
