# syntax=docker/dockerfile:1
# bqwarden gateway for Cloud Run: compiled JS, production dependencies only, non-root.
# Build: docker build -t <region>-docker.pkg.dev/<project>/bqwarden/gateway:<version> .

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install step may fetch binaries (the toolbox runs as its own sidecar image).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    BQWARDEN_USE_DIST=1 \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
# Application files are owned by root and read-only for the runtime user.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
# Writable scratch for the optional local spool; Cloud Run's filesystem is in-memory.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# The gateway listens on $PORT (Cloud Run sets it); secrets arrive as mounted files.
CMD ["node", "bin/bqwarden.js", "serve"]
