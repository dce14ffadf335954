#!/usr/bin/env bash
# jail-venv.sh VENV: makes a virtualenv say nothing of where it lives on the host, since the
# nsjail backend shows its lib/ and pyvenv.cfg to every script (at /sandbox/venv, the
# JAIL_VENV_DIR of adapters/nsjail/nsjail-argv.ts): pyvenv.cfg loses the `command` line that
# names the venv's path, and the bytecode pip compiled is compiled again as if it lived at
# /sandbox/venv. Python fixes a module's file names at import wherever it really lives, so the
# subprocess backend, which runs the venv where it is, sees its own paths as before.
set -euo pipefail
venv=$1
sed -i '/^command = /d' "$venv/pyvenv.cfg"
"$venv/bin/python" -m compileall -q -f -j 0 -s "$venv" -p /sandbox/venv "$venv/lib" > /dev/null
