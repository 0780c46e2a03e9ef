# syntax=docker/dockerfile:1
# The app image: the worker by default; docker-compose.yml also runs the migration
# (`npm run db:migrate`) and the provider emulator (`npm run emulator`) from it.
#
#   docker build -t temporal-llm-orchestrator:0.1.0 .
#
# `npm run build` compiles the worker, the CLI and the demo into dist/ with a prebuilt workflow
# bundle, so the container starts in about a second instead of bundling workflows at every start.

# ---- build: dependencies (native ones compiled here), generated Prisma client ----
FROM node:20.19.5-bookworm-slim AS build

# onnxruntime-node's install script fetches CUDA add-ons; the CPU binaries ship in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_update_notifier=false

# better-sqlite3 compiles from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so source edits do not reinstall them.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund

COPY . .
RUN npm run db:generate && npm run build
# Development dependencies stay: the image runs the same npm scripts as a checkout does, and
# pruning would break any of them that leans on one.

# ---- runtime: no compilers, no write access to the code ----
FROM node:20.19.5-bookworm-slim AS runtime

ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_update_notifier=false

WORKDIR /app
# Same base image as the build stage, so the compiled native modules match its glibc.
COPY --from=build /app /app
# Code and dependencies stay root-owned; the app writes only its data and cache folders
# (SQLite when DATABASE_URL is a file: URL, downloaded model files).
RUN mkdir -p /app/.data /app/.cache \
 && chown node:node /app/.data /app/.cache

# The image's unprivileged user (uid 1000).
USER node

CMD ["node", "dist/worker.js"]
