#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the Web UI tests and screenshots
# (test/codec-server/web-ui.test.ts, scripts/screenshot-*.ts): $CHROMIUM_PATH, `chromium` on PATH,
# /usr/bin/chromium, else installed from Debian (apt-get install chromium; needs root).
set -euo pipefail

die() { echo "chromium.sh: $*" >&2; exit 1; }

if [[ -n "${CHROMIUM_PATH:-}" ]]; then
  [[ -x "$CHROMIUM_PATH" ]] || die "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable"
  echo "$CHROMIUM_PATH"; exit 0
fi
for candidate in "$(command -v chromium 2>/dev/null || true)" /usr/bin/chromium; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then echo "$candidate"; exit 0; fi
done
if [[ "$(id -u)" != "0" ]]; then
  die "Chromium not found, and installing it needs root.
  Install it yourself (Debian/Ubuntu: sudo apt-get install -y chromium), or set CHROMIUM_PATH to the binary."
fi
command -v apt-get >/dev/null 2>&1 || die "Chromium not found and apt-get is unavailable: install Chromium, or set CHROMIUM_PATH"
echo "chromium.sh: installing Chromium with apt-get (one time)..." >&2
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || die "apt-get install chromium failed"
fi
[[ -x /usr/bin/chromium ]] || die "apt-get installed chromium, but /usr/bin/chromium is missing"
echo /usr/bin/chromium
