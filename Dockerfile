# syntax=docker/dockerfile:1
# The catalog-assets image: one image for every role (worker, serve, setup, migrate, simulator),
# chosen by the command. The TypeScript sources run directly through tsx (a runtime dependency),
# so there is no build step and what runs is exactly what is in the repository.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- dependencies: production only, from the lockfile --------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Native modules (sharp, the Temporal core bridge, esbuild for tsx) come as prebuilt binaries for
# linux glibc, so no compiler is needed. The cache mount keeps rebuilds fast.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/catalog-assets \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080
COPY --from=deps /app/node_modules ./node_modules
# Only what runs: the CLI entry, the sources (workflows and activities in src/temporal), the migrations.
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
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
