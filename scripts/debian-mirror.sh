# The Debian mirrors the host's own apt configuration already uses (sources.list or deb822),
# for scripts that debootstrap a root filesystem. Sourced, not run.
#
# debian_mirrors SUITE sets MIRROR (required; fails without it), SECURITY_MIRROR and
# UPDATES_MIRROR (empty when the host has none).

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
