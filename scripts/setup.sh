#!/usr/bin/env bash
# Idempotent set-up for a fresh clone: Node dependencies and the project's Python virtualenv.
# Each step is skipped when its inputs have not changed since it last succeeded, so
# `npm start` and `npm test` can run it every time.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp_ok() { # stamp-file input-file...
  local stamp=$1; shift
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(cat "$@" | sha256sum)" ]
}
write_stamp() { local stamp=$1; shift; cat "$@" | sha256sum > "$stamp"; }

if ! stamp_ok node_modules/.setup-stamp package-lock.json; then
  echo "setup: installing Node dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  write_stamp node_modules/.setup-stamp package-lock.json
fi

# Debian's interpreter by default: it lives outside any home directory, so the nsjail
# backend can bind-mount it read-only into a jail. PYTHON overrides it.
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3 || true)"; do
    if [ -x "$candidate" ]; then python=$candidate; break; fi
  done
fi
if [ -z "$python" ]; then
  echo "setup: no python3 found; install Python 3.11+ or set PYTHON=/path/to/python3" >&2
  exit 1
fi

if ! stamp_ok .venv/.setup-stamp requirements.txt; then
  echo "setup: creating .venv with $python and the pinned requirements" >&2
  rm -rf .venv
  "$python" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
  write_stamp .venv/.setup-stamp requirements.txt
fi
