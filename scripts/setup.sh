#!/usr/bin/env bash
# Idempotent set-up for a fresh clone: Node dependencies and the project's Python virtualenv.
# Each step is skipped when its inputs have not changed since it last succeeded, so
# `npm start` and `npm test` can run it every time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv-lib.sh

if ! stamp_ok node_modules/.setup-stamp package-lock.json; then
  echo "setup: installing Node dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  write_stamp node_modules/.setup-stamp package-lock.json
fi

ensure_venv .venv requirements.txt sandbox
# matplotlib's font list, built once with the package set; the harness copies it into each
# sandbox's cache dir (the Dockerfile builds it the same way).
if [ ! -d .venv/lib/matplotlib-cache ]; then
  (umask 022 && MPLCONFIGDIR=.venv/lib/matplotlib-cache .venv/bin/python -c "import matplotlib.font_manager")
fi
