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

# Where the virtualenv DIR (relative to the checkout) really lives. Sandboxes run as
# unprivileged users that must be able to read it; when this checkout sits below a directory
# they cannot enter (a 0700 home or temp dir) and we are root, it is kept under
# /opt/python-exec-service/ instead, and DIR is a symlink to it.
venv_home() {
  local dir=$1
  if [ "$(id -u)" -ne 0 ] || setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$PWD" 2>/dev/null; then
    echo "$PWD/$dir"
  else
    echo "/opt/python-exec-service/venv-$(printf %s "$PWD/$dir" | sha256sum | cut -c1-16)"
  fi
}

# ensure_venv DIR REQUIREMENTS [sandbox]: a virtualenv with exactly these pins, remade when they
# change; with "sandbox", readable by the sandboxes' users wherever the checkout is.
ensure_venv() {
  local dir=$1 requirements=$2 home="$PWD/$1" python
  [ "${3:-}" = sandbox ] && home=$(venv_home "$dir")
  if [ "$home" != "$PWD/$dir" ] && [ "$(readlink "$dir" || true)" != "$home" ]; then rm -rf "$dir"; fi
  local inputs=("$requirements") included
  # A requirements file that includes another (-r FILE) is made again when either changes.
  # (No process substitution: the VM's root filesystem is set up where /dev/fd is absent.)
  for included in $(sed -n 's/^-r[[:space:]]*//p' "$requirements"); do inputs+=("$included"); done
  [ "${3:-}" = sandbox ] && inputs+=(scripts/jail-venv.sh)
  stamp_ok "$dir/.setup-stamp" "${inputs[@]}" && return 0
  python=$(find_python)
  echo "setup: creating $home with $python and the pinned $requirements" >&2
  rm -rf "$home"
  mkdir -p "$(dirname "$home")"
  (umask 022 && "$python" -m venv "$home" &&
    "$home/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements" &&
    if [ "${3:-}" = sandbox ]; then bash scripts/jail-venv.sh "$home"; fi)
  [ "$home" = "$PWD/$dir" ] || ln -sfn "$home" "$dir"
  write_stamp "$dir/.setup-stamp" "${inputs[@]}"
}
