# What the scripts that debootstrap a Debian root filesystem share. Sourced, not run; the
# sourcing script defines log().
#
# need_commands CMD... installs (apt-get) the package of the same name for each missing command.
# debian_mirrors SUITE sets MIRROR (required; fails without it), SECURITY_MIRROR and
# UPDATES_MIRROR (empty when the host has none): the mirrors the host's own apt configuration
# already uses (sources.list or deb822).
# debootstrap_minbase SUITE DIR LOG SECONDS [OPTION...] debootstraps a minbase SUITE from
# $MIRROR into DIR (emptied first), its output in LOG; fails showing LOG's tail.

need_commands() { # command...
  local missing=() command
  for command in "$@"; do command -v "$command" >/dev/null || missing+=("$command"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} (apt-get)"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

debootstrap_minbase() { # suite dir log seconds [option...]
  local suite=$1 dir=$2 output=$3 seconds=$4
  shift 4
  rm -rf "$dir"
  timeout "$seconds" debootstrap --variant=minbase "$@" "$suite" "$dir" "$MIRROR" > "$output" 2>&1 ||
    { tail -20 "$output" >&2; return 1; }
}

debian_apt_uri() { # release
  # shellcheck disable=SC2016  # apt's own $(FIELD) syntax, not the shell's
  apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null |
    awk -v rel="$1" '$2 == rel && $3 == "main" { print $1; exit }'
}

debian_mirrors() { # suite
  MIRROR=$(debian_apt_uri "$1")
  if [ -z "$MIRROR" ]; then   # indextargets lists what apt has fetched: fetch the lists once
    timeout 300 apt-get update -qq || true
    MIRROR=$(debian_apt_uri "$1")
  fi
  if [ -z "$MIRROR" ]; then
    echo "no '$1 main' repository in the host's apt configuration" >&2
    return 1
  fi
  SECURITY_MIRROR=$(debian_apt_uri "$1-security")
  UPDATES_MIRROR=$(debian_apt_uri "$1-updates")
}
