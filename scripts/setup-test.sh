#!/usr/bin/env bash
# Idempotent set-up of what only the tests need, run by `npm test` after scripts/setup.sh:
#  1. Debian's chromium, which the browser tests (test/browser/) drive with playwright-core
#     (which never downloads a browser of its own);
#  2. .venv-test, a virtualenv of its own for the Python test tools pinned in requirements-test.txt,
#     so the scripts' runtime (.venv, requirements.txt) stays exactly what production runs.
# Each step is skipped when it is already done, so `npm test` can run this every time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv-lib.sh

# 1. The browser.
chromium=${CHROMIUM_BIN:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-test: installing Debian's chromium for the browser tests (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
    if [ ! -x "$chromium" ]; then
      echo "setup-test: apt-get installed chromium but $chromium is still missing; set CHROMIUM_BIN" >&2
      exit 1
    fi
  else
    # Not root (or not Debian): leave the machine alone. The browser test skips with a
    # warning, or fails when REQUIRE_BROWSER is set (as CI does).
    echo "setup-test: $chromium not found and cannot be installed here (needs root and apt-get);" \
      "install Debian's chromium or set CHROMIUM_BIN, else the browser tests are skipped" >&2
    if [ -n "${REQUIRE_BROWSER:-}" ]; then exit 1; fi
  fi
fi

# 2. The Python test tools.
ensure_venv .venv-test requirements-test.txt
