#!/usr/bin/env bash
# Builds dist/ (scripts/build.ts): the worker, the CLI and the demo as JavaScript, and the
# prebuilt workflow bundle. npm run build.
#
#   bash scripts/build.sh               build now
#   bash scripts/build.sh --if-needed   only when a source is newer than the last build (what
#                                       npm run worker / cli / demo / test call first; ~10 ms when
#                                       nothing changed)
#
# "Newer" is by modification time against dist/.build-stamp, over the TypeScript the programs are
# made of, the Prisma schema, the lockfile and the build's own files. The worker checks the
# workflow bundle by content hash as well (src/temporal/workflow-bundle.ts), so a stale bundle is
# never used even when dist/ was not rebuilt. Messages go to stderr: stdout stays the program's.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

STAMP=dist/.build-stamp
INPUTS=(worker.ts src workflows activities client scripts/demo.ts scripts/build.ts scripts/build.sh tsconfig.json tsconfig.build.json package.json package-lock.json prisma/schema.prisma)

up_to_date() {
  [ -f "$STAMP" ] && [ -f dist/worker.js ] && [ -f dist/client/cli.js ] && [ -f dist/scripts/demo.js ] && [ -f dist/src/gateway/main.js ] && [ -f dist/src/codec-server/main.js ] && [ -f dist/src/testing/index.js ] \
    && [ -z "$(find "${INPUTS[@]}" -newer "$STAMP" -print -quit 2>/dev/null)" ]
}

if [ "${1:-}" = --if-needed ] && up_to_date; then exit 0; fi

[ -x node_modules/.bin/tsx ] || die "npm dependencies are missing: run npm ci (npm run demo and npm test install them)"
mkdir -p dist
# One build at a time: concurrent callers wait, then find the work done (flock is util-linux; without
# it, concurrent builds still each write whole files by rename).
if command -v flock >/dev/null 2>&1; then
  exec 9>dist/.build.lock
  flock 9
fi
if [ "${1:-}" = --if-needed ] && up_to_date; then exit 0; fi

log "building dist/ (changed sources since the last build)"
bash scripts/prisma.sh generate >&2 # the generated Prisma clients are bundled in; skipped when current
touch "$STAMP.next" # before reading any source: an edit made during the build triggers the next one
node_modules/.bin/tsx scripts/build.ts
mv "$STAMP.next" "$STAMP"
