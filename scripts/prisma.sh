#!/usr/bin/env bash
# Prisma CLI commands that work offline.
#
#   bash scripts/prisma.sh generate [--force]   # npm run db:generate
#       Regenerates prisma/postgresql/schema.prisma from prisma/schema.prisma, then both clients:
#       src/generated/prisma-sqlite and src/generated/prisma-postgresql. Skipped when nothing
#       changed since the last run (stamp in src/generated/.stamp); --force regenerates anyway.
#   bash scripts/prisma.sh validate   # both schemas
#   bash scripts/prisma.sh format     # prisma/schema.prisma, then its twin
#
# The Prisma 7 CLI looks for its native schema-engine binary before every command and downloads
# it when missing. generate/validate/format never run it, so PRISMA_SCHEMA_ENGINE_BINARY points
# at a stub that explains itself if it ever is run. Migrations: npm run db:migrate.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export PRISMA_SCHEMA_ENGINE_BINARY="$ROOT/scripts/prisma-schema-engine-stub.sh"
export CHECKPOINT_DISABLE=1           # no update-check request
export PRISMA_HIDE_UPDATE_MESSAGE=1

SQLITE_SCHEMA="prisma/schema.prisma"
PG_SCHEMA="prisma/postgresql/schema.prisma"
GENERATED="src/generated"
STAMP="$GENERATED/.stamp"
PRISMA=(node "$ROOT/node_modules/prisma/build/index.js")
TSX="$ROOT/node_modules/.bin/tsx"

[[ -f "$ROOT/node_modules/prisma/build/index.js" ]] || { echo "prisma.sh: node_modules/prisma is missing; run npm ci first" >&2; exit 1; }

# Everything the generated clients depend on.
stamp() {
  cat "$SQLITE_SCHEMA" "$PG_SCHEMA" src/memory/schema-twin.ts "$ROOT/scripts/prisma.sh" 2>/dev/null
  node -p "require('prisma/package.json').version + ' ' + require('@prisma/client/package.json').version"
}
stamp_hash() { stamp | sha256sum | cut -d' ' -f1; }

# Run the CLI on both schemas in parallel; print each one's output, fail if either failed.
on_both() {
  local tmp rc=0
  tmp="$(mktemp -d)"
  "${PRISMA[@]}" "$@" --schema "$SQLITE_SCHEMA" >"$tmp/sqlite" 2>&1 &
  local p1=$!
  "${PRISMA[@]}" "$@" --schema "$PG_SCHEMA" >"$tmp/pg" 2>&1 &
  local p2=$!
  wait "$p1" || rc=1
  wait "$p2" || rc=1
  if [[ $rc -ne 0 ]]; then
    cat "$tmp/sqlite" "$tmp/pg" >&2
  else
    grep -h '✔\|Formatted\|is valid' "$tmp/sqlite" "$tmp/pg" || true
  fi
  rm -rf "$tmp"
  return $rc
}

cmd_generate() {
  local force=0
  [[ "${1:-}" == "--force" ]] && force=1
  if [[ $force -eq 0 && -f "$STAMP" && -f "$GENERATED/prisma-sqlite/client.ts" && -f "$GENERATED/prisma-postgresql/client.ts" \
        && "$(cat "$STAMP")" == "$(stamp_hash)" ]]; then
    echo "prisma.sh: clients are up to date (bash scripts/prisma.sh generate --force to regenerate)"
    return 0
  fi
  "$TSX" src/memory/schema-twin.ts
  rm -f "$STAMP"
  on_both generate
  stamp_hash > "$STAMP"
}

case "${1:-}" in
  generate) shift; cmd_generate "$@" ;;
  validate)
    "$TSX" src/memory/schema-twin.ts
    on_both validate
    ;;
  format)
    # Format the source; the twin follows from it.
    "${PRISMA[@]}" format --schema "$SQLITE_SCHEMA"
    "$TSX" src/memory/schema-twin.ts
    ;;
  *)
    echo "usage: bash scripts/prisma.sh generate [--force] | validate | format" >&2
    exit 2
    ;;
esac
