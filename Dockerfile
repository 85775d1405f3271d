# syntax=docker/dockerfile:1
# bqwarden gateway for Cloud Run: compiled JS on Node 24 LTS, runtime dependencies only, non-root.
# Build: docker build -t <region>-docker.pkg.dev/<project>/bqwarden/gateway:<version> .
# test/gcp/image.test.ts lays out exactly what the last stage copies and starts `serve` on it.

# Compile TypeScript to dist/ (needs the dev dependencies: typescript).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install step may fetch binaries; --omit=optional: the MCP Toolbox and
# esbuild platform binaries are not needed to compile (Toolbox runs as its own sidecar image).
RUN npm install --no-audit --no-fund --ignore-scripts --omit=optional
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime dependencies only (package.json "dependencies"): no tsx, esbuild, sql.js, Toolbox.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# patches/: fixes to published packages (the sql-parser-cst grammar, see docs/sql.md), applied as
# `npm install` applies them (postinstall); --ignore-scripts skips that, so apply them here.
COPY patches ./patches
RUN npm install --no-audit --no-fund --ignore-scripts --omit=dev --omit=optional \
 && npx --yes patch-package@8.0.1 --error-on-fail && npm cache clean --force

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
# Application files are owned by root and read-only for the runtime user.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./package.json
COPY bin ./bin
# The default policy (the demo's); production mounts its own (BQWARDEN__rules__dir, Terraform policy_dir).
COPY rules ./rules
# Writable scratch for the optional local spool; Cloud Run's filesystem is in-memory.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# The gateway listens on $PORT (Cloud Run sets it); secrets arrive as mounted files.
CMD ["node", "bin/bqwarden.js", "serve"]
