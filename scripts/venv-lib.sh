# Shared by scripts/setup.sh and scripts/setup-test.sh (sourced, not run).

stamp_ok() { # stamp-file input-file...: the inputs are unchanged since the step last succeeded
  local stamp=$1; shift
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(cat "$@" | sha256sum)" ]
}
write_stamp() { local stamp=$1; shift; cat "$@" | sha256sum > "$stamp"; }

# Debian's interpreter by default: it lives outside any home directory, so the nsjail
# backend can bind-mount it read-only into a jail. PYTHON overrides it.
find_python() {
  local candidate
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  for candidate in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3 || true)"; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  echo "no python3 found; install Python 3.11+ or set PYTHON=/path/to/python3" >&2
  return 1
}

# ensure_venv DIR REQUIREMENTS: a virtualenv with exactly these pins, remade when they change.
ensure_venv() {
  local dir=$1 requirements=$2 python
  stamp_ok "$dir/.setup-stamp" "$requirements" && return 0
  python=$(find_python)
  echo "setup: creating $dir with $python and the pinned $requirements" >&2
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
  write_stamp "$dir/.setup-stamp" "$requirements"
}
