#!/usr/bin/env bash
# `npm run test:cgroup2`: proves the nsjail backend on a pure cgroup v2 Linux. Boots a VM
# (QEMU, emulated: no KVM needed) from Debian's cloud kernel and an initramfs holding Debian
# bookworm, Node 24, this checkout, its node_modules and .venv (scripts/cgroup2-vm-image.sh
# builds and caches those), and runs there, with REQUIRE_NSJAIL=1, the nsjail isolation suite
# (test/nsjail/, the cgroup v2 limits included), the seed examples and the session suite on the nsjail backends.
# Ends with `N passed, M failed`; exits non-zero on any failure.
#
#   test-cgroup2.sh [nsjail]   the suites above (`npm run test:cgroup2`)
#   test-cgroup2.sh image      the production image under podman in the VM, privileged and with
#                              capabilities only (`npm run test:cgroup2:image`); the image is
#                              built here first (scripts/test-container.sh BUILD_ONLY=1)
#   test-cgroup2.sh cgroups    test/nsjail/cgroup-limits.test.ts alone
#
# Needs root (debootstrap, chroot). The first run builds the root filesystem (minutes); later
# runs reuse it while its inputs are unchanged, and only pack this checkout's files anew.
#
# Environment:
#   PES_CGROUP2_CACHE  cache directory (default /var/tmp/python-exec-service-cgroup2)
#   VM_MEMORY_MB       the VM's memory (default 6144; its root filesystem lives in it)
#   VM_TIMEOUT_S       the whole VM run's limit (default 1800)
#   VM_LOG             where the VM's console goes besides stdout (default: a temporary file)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

VM_MEMORY_MB=${VM_MEMORY_MB:-6144}
VM_TIMEOUT_S=${VM_TIMEOUT_S:-1800}
SUITE=${1:-nsjail}
GUEST_CHECKOUT=/srv/python-exec-service

log() { echo "test-cgroup2: $*" >&2; }
fail() { log "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root"
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v cpio >/dev/null; then
  log "installing qemu-system-x86 and cpio (apt-get)"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends qemu-system-x86 cpio >/dev/null ||
    fail "apt-get install qemu-system-x86 cpio"
fi

started=$(date +%s)
image=$(bash scripts/cgroup2-vm-image.sh) || fail "scripts/cgroup2-vm-image.sh"
KERNEL=$(sed -n 's/^KERNEL=//p' <<<"$image")
BASE=$(sed -n 's/^BASE=//p' <<<"$image")
log "kernel and root filesystem ready after $(( $(date +%s) - started )) s"

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/test-cgroup2.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# This checkout's files (tracked, and new ones not ignored), as a second archive: the kernel
# unpacks concatenated cpio archives into one tree.
stage="$WORK/project"
mkdir -p "$stage$GUEST_CHECKOUT"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
  cpio --null -pdm --quiet "$stage$GUEST_CHECKOUT" || fail "copying the checkout"
install -m 0755 scripts/cgroup2-vm-init.sh "$stage/init"
if [ "$SUITE" = image ]; then
  IMAGE=python-exec-service:test
  BUILD_ONLY=1 IMAGE=$IMAGE bash scripts/test-container.sh >&2 || fail "building the image (scripts/test-container.sh)"
  mkdir -p "$stage/var/tmp"
  CONTAINERS_CONF=$(bash scripts/container-base-image.sh --conf-path) \
    timeout 600 podman save --format docker-archive -o "$stage/var/tmp/image.tar" "$IMAGE" >&2 || fail "podman save $IMAGE"
fi
(cd "$stage" && find . -mindepth 1 -print0 | cpio --null -o -H newc --quiet) > "$WORK/project.cpio" || fail "packing the checkout"
cat "$BASE" "$WORK/project.cpio" > "$WORK/initrd.cpio" || fail "writing the initramfs"

console=${VM_LOG:-$WORK/console.log}
log "booting the VM (TCG, 2 cpus, $VM_MEMORY_MB MiB) for suite $SUITE; console follows"
vm_started=$(date +%s)
# No -enable-kvm: the emulated machine works wherever QEMU does (also inside a VM whose
# nested KVM is missing or unreliable). cgroup_no_v1=all: no v1 hierarchy can be mounted.
# mitigations=off: the guest runs nothing but the tests, and page-table isolation makes every
# system call costly under emulation. tsc=reliable: the emulated CPUs (AMD, two, without the
# constant-TSC flag) make the kernel distrust the TSC and read the time from the emulated HPET,
# a device access under QEMU's global lock on every clock read; QEMU's TSC is one counter for
# both CPUs, taken from the host's, that never goes back. loglevel=4: the kernel's errors reach
# the console as they come (the first line of an RCU stall's or a hung task's report shows even
# if nothing in the guest can print any more; the memory tests' OOM kills add a line each).
timeout "$VM_TIMEOUT_S" qemu-system-x86_64 \
  -accel tcg -cpu max -smp 2 -m "$VM_MEMORY_MB" \
  -nic none -display none -monitor none -serial stdio -no-reboot \
  -kernel "$KERNEL" -initrd "$WORK/initrd.cpio" \
  -append "console=ttyS0 loglevel=4 panic=-1 mitigations=off tsc=reliable cgroup_no_v1=all pes_suite=$SUITE" \
  < /dev/null 2>&1 | sed -u 's/\r$//' | tee "$console"
vm_status=${PIPESTATUS[0]}
log "the VM ran $(( $(date +%s) - vm_started )) s (qemu exit status $vm_status); $(( $(date +%s) - started )) s in all"

# What the progress reporter (test/support/progress-reporter.ts) saw start and never end: the
# test files still loading and the tests still running when the VM stopped.
unfinished() {
  awk '
    /^\[progress\] (loading|started) / { what = $2; sub(/^\[progress\] [a-z]+ /, ""); going[$0] = what; order[++n] = $0; next }
    /^\[progress\] loaded / { sub(/^\[progress\] loaded /, ""); delete going[$0]; next }
    /^\[progress\] (passed|failed|skipped|pending) / { sub(/^\[progress\] [a-z]+ /, ""); sub(/ \([0-9]+ ms\).*$/, ""); delete going[$0] }
    END { for (i = 1; i <= n; i++) if (order[i] in going) { print going[order[i]] " " order[i]; delete going[order[i]] } }
  ' "$console"
}
explain_failure() {
  log "the console's last 60 lines:"
  tail -n 60 "$console" >&2
  local going last
  going=$(unfinished)
  if [ -n "$going" ]; then log "started and never finished:"; echo "$going" >&2
  else
    last=$(grep -a '^\[progress\] ' "$console" | tail -n 1)
    log "every test started has finished${last:+; the last progress line: $last}"
  fi
}

result=$(grep -a '^CGROUP2-VM-RESULT ' "$console" | tail -1)
passed=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' <<<"$result")
failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$result")
if [ -z "$passed" ] || [ -z "$failed" ]; then
  [ "$vm_status" = 124 ] && log "the VM did not finish within $VM_TIMEOUT_S s"
  explain_failure
  fail "the VM reported no result"
fi
[ "$failed" = 0 ] || explain_failure
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
