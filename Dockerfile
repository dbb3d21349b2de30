# syntax=docker/dockerfile:1
# The catalog-assets image: one image for every role (worker, serve, setup, migrate, simulator),
# chosen by the command. It runs built JavaScript: the build stage bundles the CLI (dist/cli.js and its
# chunks, esbuild with code splitting: each command's implementation loads only when it runs) and the
# workflow code (dist/workflow-bundle.js, which workers load through WORKFLOW_BUNDLE instead of bundling
# at start); the runtime stage has neither the TypeScript sources nor a transpiler.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: all dependencies, the sources, the two bundles -------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY scripts/build.mjs scripts/bundle-workflows.ts ./scripts/
COPY src ./src
COPY migrations ./migrations
# npm ci runs `prepare`, the CLI build, so the sources come first. The cache mount keeps rebuilds fast.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
RUN npm run build:workflows

# --- dependencies: production only, from the lockfile --------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --ignore-scripts skips `prepare` (its build tools are dev dependencies; the build stage ran it) and
# the dependencies' install scripts, which no role in the image needs: sharp and the Temporal core
# bridge come as prebuilt binaries for linux glibc, the workflow bundler (swc) is not used with a
# prebuilt bundle, and the embedded Postgres belongs to the local stack only.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/catalog-assets \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
COPY --from=deps /app/node_modules ./node_modules
# Only what runs: the CLI launcher, the built CLI (entry, chunks; migrations included) and the workflow
# bundle, all of dist/. With no
# src/ beside it, the launcher runs dist/ without looking for newer sources.
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
COPY docker/healthcheck.mjs ./docker/healthcheck.mjs
# The unprivileged `node` user (uid 1000) of the base image owns only the data directory; the code
# stays root-owned and read-only to the process.
RUN mkdir -p /var/lib/catalog-assets && chown node:node /var/lib/catalog-assets
USER node
VOLUME ["/var/lib/catalog-assets"]
EXPOSE 8080
# One check for every role: the HTTP service's /healthz for `serve`, Temporal and Postgres
# reachability for `worker`, healthy while running for one-shot commands (see the script).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "docker/healthcheck.mjs"]
ENTRYPOINT ["node", "bin/catalog-assets.js"]
CMD ["worker"]
