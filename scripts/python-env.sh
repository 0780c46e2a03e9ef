#!/usr/bin/env bash
# A Python virtual environment with Temporal's Python SDK, the OpenAI SDK and `cryptography` (for
# the payload codec, clients/python/orchestrator_codec.py) from PyPI, for the tests that drive the
# worker the way users of other SDKs do. Created once in .cache/python-venv, reused while the pinned
# versions match; a venv made for other pins gets the missing or changed packages installed into it.
# Prints the path of its python.
source "$(dirname "$0")/lib.sh"
PYTHON_TEMPORALIO_VERSION="${PYTHON_TEMPORALIO_VERSION:-1.35.0}"
PYTHON_OPENAI_VERSION="${PYTHON_OPENAI_VERSION:-3.57.0}"
PYTHON_CRYPTOGRAPHY_VERSION="${PYTHON_CRYPTOGRAPHY_VERSION:-50.0.2}"
venv="$CACHE_DIR/python-venv"
want="temporalio==$PYTHON_TEMPORALIO_VERSION openai==$PYTHON_OPENAI_VERSION cryptography==$PYTHON_CRYPTOGRAPHY_VERSION"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.pinned" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages from PyPI into $venv: $want"
  if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv" >&2 || die "python3 -m venv failed: install Python 3 with venv (Debian: python3-venv)"; fi
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2 || die "pip install $want failed (is PyPI reachable?)"
  echo "$want" >"$venv/.pinned"
fi
echo "$venv/bin/python"
