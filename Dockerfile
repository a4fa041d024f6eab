# ordersync: one image for every role (ROLE=api | worker | all) and for the demo tools
# (tools/fake-supplier-api.mjs, tools/simulator-1688.mjs, tools/fake-1688-open-api.mjs).
#
#   docker build -t ordersync .            (or: podman build -t ordersync .)
#   docker run --rm -e ROLE=api -p 3000:3000 ... ordersync
#   docker run --rm ordersync node tools/fake-supplier-api.mjs --host 0.0.0.0 --port 4000
#
# Stages: build (all dependencies, tsc into dist/) and prod-deps (production dependencies only,
# installed clean from the lockfile, in parallel with build) feed a small runtime stage that holds
# node_modules, dist/, tools/ and package.json ("type": "module" makes dist/*.js ESM), nothing else.
#
# Base: Node 22 on Debian bookworm-slim, pinned by major version (security fixes of 22.x and of
# bookworm come with a rebuild). Pin a digest (node:22-bookworm-slim@sha256:...) for a
# byte-for-byte reproducible build. NODE_IMAGE may point at a mirror or at a locally made
# stand-in (docs/notes/image-build.md builds one without any container registry).
ARG NODE_IMAGE=node:22-bookworm-slim

# --- build: every dependency, then tsc -p tsconfig.build.json into dist/ -------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# SCARF_ANALYTICS=false: a dependency's install script would otherwise report the install.
RUN --mount=type=cache,target=/root/.npm \
    SCARF_ANALYTICS=false npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: production dependencies only, from the lockfile, in a clean stage ---------------
# (a clean `npm ci --omit=dev` rather than `npm prune`: nothing left over from the dev install).
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    SCARF_ANALYTICS=false npm ci --omit=dev --no-audit --no-fund

# --- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="ordersync" \
      org.opencontainers.image.description="Keeps orders in step with 1688.com pushes and an external order API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}" \
      org.opencontainers.image.licenses="UNLICENSED"

# tini (Debian's package) is PID 1 and runs node as its child. Why not node as PID 1:
#  - PID 1 gets no default signal actions from the kernel. main.ts installs its SIGTERM handler
#    only once the service is up (after migrations); a SIGTERM during start-up would be ignored
#    by a PID-1 node and the container would sit there until SIGKILL. Under tini the default
#    action applies and it stops at once.
#  - tini forwards SIGTERM/SIGINT to node, reaps any zombie a child process leaves behind, and
#    exits with node's exit code (0 after a clean drain, 1 past SHUTDOWN_GRACE_MS).
#  - `docker run --init` / compose `init: true` would do the same, but only where the runtime is
#    told to; Kubernetes has no such switch. Baked in, it works everywhere.
# npm, npx, corepack and yarn are removed: the runtime runs `node` and nothing else.
# The service user owns nothing: the code is root-owned and read-only to it, and the service
# writes nothing to disk (Kubernetes runs it with a read-only root filesystem).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && groupadd --gid 10001 ordersync \
 && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin ordersync

ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY tools ./tools

# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001

# PORT (ROLE=api|all); a worker serves /health and /metrics on WORKER_HTTP_PORT when it is set.
EXPOSE 3000

# Liveness without curl: node's own fetch with a timeout, against the port of this role.
# A worker with WORKER_HTTP_PORT=0 has no HTTP at all: nothing to ask, so it counts as healthy
# for as long as it runs (give it a WORKER_HTTP_PORT to have it checked). The start period
# covers database creation and migrations.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const p=process.env.ROLE==='worker'?(process.env.WORKER_HTTP_PORT||'0'):(process.env.PORT||'3000');if(p==='0')process.exit(0);fetch('http://127.0.0.1:'+p+'/health/live',{signal:AbortSignal.timeout(3000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# SIGTERM starts the drain (readiness down, HTTP drains, jobs finish, exit 0). Give the container
# more than SHUTDOWN_GRACE_MS (+ SHUTDOWN_READY_DELAY_MS) before SIGKILL.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
