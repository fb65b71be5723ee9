# syntax=docker/dockerfile:1
#
# Kiln: one process serving the HTTP API and hosting the actors.
#   docker build -t kiln .
#   docker run -p 7741:7741 -e BETTER_AUTH_SECRET=... -v kiln-data:/data kiln
# See compose.dev.yaml for Kiln with PostgreSQL.

# ---- build: production dependencies, with the native ones compiled -------------------------
FROM node:20-bookworm-slim AS build

# better-sqlite3 and cbor-extract compile through node-gyp when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# The project uses npm 11 (package.json `allowScripts` decides which install scripts run);
# node:20 ships npm 10.
RUN npm install -g npm@11.19.1

WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# package.json overrides point optional platform packages at this empty stand-in (see README).
COPY .ci/noop-optional ./.ci/noop-optional
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime ---------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime

# Kiln runs git: `git ls-remote` checks a repository when it is added, and the local sandbox
# provider clones and branches with it (https remotes need CA certificates, ssh ones ssh).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=7741 \
    KILN_DATA_DIR=/data

# RivetKit versions its runner with this number so an engine drains old actors on deploy;
# bump it per release (`--build-arg RIVET_RUNNER_VERSION=...`) when running on a Rivet Engine.
ARG RIVET_RUNNER_VERSION=1
ENV RIVET_RUNNER_VERSION=${RIVET_RUNNER_VERSION}

WORKDIR /app
# The code stays owned by root and read-only to the app; only /data is writable.
COPY --from=build /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY scripts ./scripts
COPY server ./server
COPY actors ./actors
COPY shared ./shared
# The workbench page's sources: Kiln bundles them with esbuild at startup (cached in /data).
COPY web ./web
# The bundle (dist/) and PGlite's cached empty database are made here, at build time: the app
# cannot write under /app, and each start then loads one module and copies that database
# (Postgres keeps its files owner-only, so the copy must be the app user's to read).
RUN node scripts/start.mjs --build && chown -R node:node node_modules/.cache/kiln

# `node` (uid 1000) is the image's non-root user. The directory is created and owned before
# VOLUME so a fresh named volume starts out owned by it.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node

EXPOSE 7741
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||7741)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# What `npm start` runs: the bundle built above (tsx, a production dependency, only if the
# sources were newer). Node is PID 1 here and handles SIGTERM itself: Kiln stops its actors and
# releases the data directory.
CMD ["node", "scripts/start.mjs"]
