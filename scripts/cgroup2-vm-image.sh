#!/usr/bin/env bash
# Builds what `npm run test:cgroup2` boots: a kernel and a root filesystem for a cgroup-v2-only
# Linux VM, from Debian's and the registries' packages only (no downloaded disk image).
#
#   kernel   Debian's linux-image-cloud-amd64, unpacked (never installed on this host)
#   base     a cpio archive (the VM's initramfs, so no disk driver is needed): debootstrap of
#            Debian bookworm minbase with python3, podman and what the VM's /init uses; the
#            project's virtualenv (.venv, made inside it by scripts/setup.sh from wheels
#            downloaded here) and node_modules (this checkout's, made by scripts/setup.sh from
#            package-lock.json, the Node 24 of the npm package `node` included); the kernel
#            modules the VM loads (zram for swap, overlay for podman)
#
# Both are cached under $PES_CGROUP2_CACHE, named by a hash of their inputs (this script, the
# package list, scripts/setup.sh and what it reads, the kernel's version), so a second run
# builds nothing. The project's own files are not in the base: scripts/test-cgroup2.sh packs
# them into a small second archive on every run.
#
# Prints two lines: KERNEL=<path> and BASE=<path>. Needs root (debootstrap, chroot).
#
# Environment:
#   PES_CGROUP2_CACHE  cache directory (default /var/tmp/python-exec-service-cgroup2)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${PES_CGROUP2_CACHE:-/var/tmp/python-exec-service-cgroup2}
SUITE=bookworm
# Inside the VM the checkout lives here (world-readable, so the jails' users can read .venv).
GUEST_CHECKOUT=/srv/python-exec-service
PACKAGES=(
  python3 python3-venv       # Debian's Python 3.11, the interpreter the project targets
  kmod iproute2 procps curl  # /init: modprobe, the loopback interface; ps; curl for test-container.sh
  podman runc netavark       # the container image inside the VM (netavark: podman's network stack)
  ca-certificates
)
MODULES=(zram lzo-rle overlay)   # lzo-rle: zram's compressor, loaded on demand

log() { echo "cgroup2-vm-image: $*" >&2; }
die() { log "error: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it)"

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v cpio >/dev/null || missing+=(cpio)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt-get)"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
mkdir -p "$CACHE"

# --- the kernel ----------------------------------------------------------------------------
# The metapackage names the current image package; apt-get download fetches that alone.
kernel_package() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
KPKG=$(kernel_package)
if [ -z "$KPKG" ]; then
  timeout 300 apt-get update -qq || true
  KPKG=$(kernel_package)
fi
[ -n "$KPKG" ] || die "apt knows no linux-image-cloud-amd64"
KVER=${KPKG#linux-image-}
KDIR="$CACHE/kernel-$KVER"
if [ ! -f "$KDIR/.complete" ]; then
  log "apt-get download $KPKG"
  rm -rf "$KDIR" "$KDIR.tmp"
  mkdir -p "$KDIR.tmp/deb"
  # _apt cannot write into a root-owned cache directory: download from a world-writable one.
  dl=$(mktemp -d)
  chmod 755 "$dl"; chown _apt "$dl" 2>/dev/null || true
  (cd "$dl" && timeout 600 apt-get download -qq "$KPKG") || die "apt-get download $KPKG failed"
  dpkg-deb -x "$dl"/*.deb "$KDIR.tmp/deb"
  rm -rf "$dl"
  cp "$KDIR.tmp/deb/boot/vmlinuz-$KVER" "$KDIR.tmp/vmlinuz"
  touch "$KDIR.tmp/.complete"
  mv "$KDIR.tmp" "$KDIR"
fi

# --- the debootstrapped system (cached by its package list) -----------------------------------
pkg_key=$(printf '%s\n' "$SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-12)
ROOTFS_CACHE="$CACHE/debootstrap-$SUITE-$pkg_key"
if [ ! -f "$ROOTFS_CACHE/.complete" ]; then
  source scripts/debian-mirror.sh
  debian_mirrors "$SUITE" || die "cannot find a Debian mirror"
  log "debootstrap --variant=minbase $SUITE with ${PACKAGES[*]} from $MIRROR (first run only; minutes)"
  rm -rf "$ROOTFS_CACHE" "$ROOTFS_CACHE.tmp"
  include=$(IFS=,; echo "${PACKAGES[*]}")
  timeout 2400 debootstrap --variant=minbase --include="$include" "$SUITE" "$ROOTFS_CACHE.tmp" "$MIRROR" \
    > "$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
  r="$ROOTFS_CACHE.tmp"
  rm -rf "$r/var/cache/apt/archives/"*.deb "$r/var/lib/apt/lists/"* "$r/usr/share/doc" "$r/usr/share/man" \
    "$r/usr/share/info" "$r/usr/share/locale" "$r/debootstrap"
  touch "$r/.complete"
  mv "$r" "$ROOTFS_CACHE"
  # Systems debootstrapped for another package list are of no more use.
  find "$CACHE" -maxdepth 1 -name "debootstrap-*" ! -name "$(basename "$ROOTFS_CACHE")" -exec rm -rf {} +
fi

# --- the base archive ------------------------------------------------------------------------
bash scripts/setup.sh >&2   # node_modules exactly as package-lock.json says, and the host's .venv
# What sets the checkout up (scripts/setup.sh), copied into the VM's system to run there too.
SETUP_INPUTS=(scripts/setup.sh scripts/venv-lib.sh scripts/jail-venv.sh requirements.txt package-lock.json)
key=$( { cat "$0" "${SETUP_INPUTS[@]}"; echo "$KVER $pkg_key ${MODULES[*]}"; } | sha256sum | cut -c1-16)
BASE="$CACHE/base-$key.cpio"
if [ ! -s "$BASE" ]; then
  WORK=$(mktemp -d "$CACHE/build.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  r="$WORK/root"
  log "assembling the root filesystem (first run, or its inputs changed)"
  cp -a "$ROOTFS_CACHE" "$r"
  rm -f "$r/.complete"
  echo cgroup2-vm > "$r/etc/hostname"

  # Kernel modules: only those /init loads and what they depend on.
  mkdir -p "$r/lib/modules"
  cp -a "$KDIR/deb/lib/modules/$KVER" "$r/lib/modules/"
  chroot "$r" depmod "$KVER"
  keep=$(for module in "${MODULES[@]}"; do chroot "$r" modprobe -S "$KVER" --show-depends "$module"; done |
    awk '$1 == "insmod" { print $2 }')
  [ -n "$keep" ] || die "modprobe found none of ${MODULES[*]} in $KVER"
  find "$r/lib/modules/$KVER/kernel" -name '*.ko*' -type f > "$WORK/all-modules"
  while IFS= read -r ko; do
    grep -qxF "${ko#"$r"}" <<<"$keep" || rm -f "$ko"
  done < "$WORK/all-modules"
  chroot "$r" depmod "$KVER"

  # node_modules as scripts/setup.sh made it here (same platform: linux x64, glibc; its stamp
  # says it matches package-lock.json, so setup.sh in the VM's system leaves it as it is).
  mkdir -p "$r$GUEST_CHECKOUT"
  cp -a node_modules "$r$GUEST_CHECKOUT/node_modules"
  chroot "$r" "$GUEST_CHECKOUT/node_modules/node/bin/node" --version >/dev/null || die "node does not run in the VM's root filesystem"

  # The virtualenv, made inside the VM's system by scripts/setup.sh itself (the pins,
  # scripts/jail-venv.sh, matplotlib's font list), from wheels downloaded here with this host's
  # pip configuration: pip there needs no network.
  wheels="$CACHE/wheels-$(sha256sum requirements.txt | cut -c1-12)"
  if [ ! -f "$wheels/.complete" ]; then
    log "pip download -r requirements.txt"
    rm -rf "$wheels"; mkdir -p "$wheels"
    timeout 900 .venv/bin/pip download --quiet --disable-pip-version-check --no-input \
      --only-binary=:all: -d "$wheels" -r requirements.txt >&2 || die "pip download failed"
    touch "$wheels/.complete"
  fi
  mkdir -p "$r/tmp/wheels"
  cp "$wheels"/*.whl "$r/tmp/wheels/"
  for file in "${SETUP_INPUTS[@]}"; do install -D -m 0644 "$file" "$r$GUEST_CHECKOUT/$file"; done
  chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PIP_NO_INDEX=1 PIP_FIND_LINKS=/tmp/wheels \
    /bin/bash -c "cd $GUEST_CHECKOUT && bash scripts/setup.sh" >&2 ||
    die "scripts/setup.sh in the VM's root filesystem failed"
  rm -rf "$r/tmp/wheels"

  log "packing $BASE"
  (cd "$r" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > "$WORK/base.cpio"
  mv "$WORK/base.cpio" "$BASE"
  # Older bases (other inputs) are of no more use.
  find "$CACHE" -maxdepth 1 -name 'base-*.cpio' ! -name "$(basename "$BASE")" -delete
fi

echo "KERNEL=$KDIR/vmlinuz"
echo "BASE=$BASE"
