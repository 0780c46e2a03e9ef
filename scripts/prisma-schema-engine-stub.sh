#!/bin/sh
# Stand-in for Prisma's native schema-engine binary, which cannot be downloaded here.
# scripts/prisma.sh points PRISMA_SCHEMA_ENGINE_BINARY at this file so that `prisma generate`,
# `validate` and `format` (which never run the engine) stop trying to download it.
echo "schema engine binary unavailable; use npm run db:migrate (applies prisma/migrations with @prisma/schema-engine-wasm)" >&2
exit 1
