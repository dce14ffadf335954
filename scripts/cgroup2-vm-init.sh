#!/bin/bash
# /init (PID 1) of the cgroup-v2-only VM that scripts/test-cgroup2.sh boots from an initramfs.
# Mounts cgroup2 and nothing of cgroup v1 (the kernel is booted with cgroup_no_v1=all), turns on
# swap, runs the suite named by `pes_suite=` on the kernel command line, prints one line
#   CGROUP2-VM-RESULT passed=N failed=M
# and powers the VM off.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8

# pivot_root(2), which nsjail and runc use, refuses the initramfs's own root (it has no parent
# mount). Move a bind mount of it over / and chroot into that: the same files, pivotable.
if [ "${PES_INIT_STAGE:-1}" = 1 ]; then
  mkdir -p /newroot
  mount --bind / /newroot
  cd /newroot || exit 1
  mount --move . /
  exec env PES_INIT_STAGE=2 chroot . /init
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ln -sfn /proc/self/fd /dev/fd   # what udev would make: bash's process substitution needs it
mkdir -p /dev/pts /dev/shm /run
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t cgroup2 none /sys/fs/cgroup
ip link set lo up
hostname cgroup2-vm

report() { # passed failed
  echo "CGROUP2-VM-RESULT passed=$1 failed=$2"
  sync
  echo o > /proc/sysrq-trigger
  sleep 60
}

suite=$(sed -n 's/.*pes_suite=\([a-z0-9-]*\).*/\1/p' /proc/cmdline)
echo "cgroup2-vm: kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)," \
  "cgroup v2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers), suite: ${suite:-none}"
if grep -qw cgroup /proc/filesystems && mount -t cgroup -o memory none /mnt 2>/dev/null; then
  umount /mnt
  echo "cgroup2-vm: a cgroup v1 hierarchy could be mounted; this VM must be v2 only"
  report 0 1
fi

# Swap, so that a test can show it does not extend a jail's memory limit (zram: swap in RAM).
if modprobe zram && echo 2G > /sys/block/zram0/disksize && mkswap -q /dev/zram0 && swapon /dev/zram0; then
  echo "cgroup2-vm: swap on: $(awk '/SwapTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
else
  echo "cgroup2-vm: could not turn on swap"
  report 0 1
fi

cd /srv/python-exec-service || report 0 1
# TEST_SLOWDOWN: emulation runs scripts many times slower (see docs/where-it-runs.md); tests
# that set a short time limit scale it, so that it does not fire before what they test.
export REQUIRE_NSJAIL=1 CI=true NO_COLOR=1 TEST_SLOWDOWN=8
node=node_modules/node/bin/node
# Test and hook timeouts are vitest.config.ts's, scaled by TEST_SLOWDOWN. The progress reporter
# prints each test as it starts and ends, and names one still going after minutes.
# What the suites print also goes to a file, for the watchdog below to see when they last did.
# Through a process substitution, not a pipe: nothing waits for its tee, which a process left
# holding the output open would keep going.
output=/tmp/suite-output.log
: > "$output"
vitest() { # report-file vitest-arguments...
  local report=$1; shift
  "$node" node_modules/vitest/vitest.mjs run --reporter=default --reporter=./test/support/progress-reporter.ts \
    --reporter=json --outputFile.json="$report" "$@" </dev/null > >(tee -a "$output") 2>&1
}
started=$(date +%s)
# A watchdog outside node: should vitest's own process be what is stuck, its progress reporter
# (which prints every minute while a test is stalled) is stuck with it. Once the suite has
# printed nothing for 5 minutes (looked at every minute), and every 5 minutes while that lasts:
# what is busy and where the kernel holds it (scripts/machine-snapshot.sh).
(
  quiet_s=300
  shown=0
  while sleep 60; do
    now=$(date +%s)
    printed=$(stat -c %Y "$output")
    if (( now - printed >= quiet_s && now - shown >= quiet_s )); then
      # Taken whole before it is printed: a prefixing process running beside it would be among the busiest.
      snapshot=$(bash scripts/machine-snapshot.sh 3 2>&1)
      echo "[watchdog] $((now - started)) s in, nothing printed for $((now - printed)) s: what the machine is doing"
      sed 's/^/[watchdog] /' <<<"$snapshot"
      shown=$now
    fi
  done
) &
reports=()
case "$suite" in
  nsjail)
    reports=(/tmp/vitest-cgroups.json /tmp/vitest-nsjail.json)
    # First alone, as it counts the machine's cgroups: the cgroup limits.
    TEST_CGROUPS_EXCLUSIVE=1 vitest /tmp/vitest-cgroups.json test/nsjail/cgroup-limits.test.ts
    # Then the isolation suite, the seed examples and the session suite on the nsjail backend
    # (their subprocess backends prove nothing about cgroups; the pooled one adds no cgroup use).
    vitest /tmp/vitest-nsjail.json test/nsjail test/integration/seeds.test.ts test/integration/session-sandbox.test.ts \
      --exclude test/nsjail/cgroup-limits.test.ts --testNamePattern '^nsjail(?! pooled)'
    ;;
  image)
    # The production image under podman (loaded from the archive the host saved), as the README
    # runs it: privileged, then with SYS_ADMIN and no seccomp filter only (the rlimit fallback).
    mkdir -p /var/lib/containers
    mount -t tmpfs -o mode=700 tmpfs /var/lib/containers
    printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
      > /tmp/containers.conf
    export CONTAINERS_CONF=/tmp/containers.conf PATH="$PWD/node_modules/node/bin:$PATH"
    podman load -q -i /var/tmp/image.tar || report 0 1
    rm -f /var/tmp/image.tar
    # Emulated: the service's start-up probe and each pandas import take tens of seconds, and
    # Node needs more than the image's 5 s to start the HEALTHCHECK command.
    in_container=(SKIP_BUILD=1 NETWORK=host SCRIPT_TIMEOUT_MS=120000 READY_TIMEOUT_S=900 HEALTH_TIMEOUT_S=120)
    env "${in_container[@]}" CONTAINER_FLAGS=--privileged EXPECT_CGROUP=v2 \
      bash scripts/test-container.sh 2>&1 | tee -a "$output" /tmp/container-privileged.log
    env "${in_container[@]}" CONTAINER_FLAGS="--cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined" \
      EXPECT_LIMITS=rlimit bash scripts/test-container.sh 2>&1 | tee -a "$output" /tmp/container-capabilities.log
    echo "cgroup2-vm: suite took $(( $(date +%s) - started )) s"
    # Each run ends with its own "N passed, M failed" line; a run without one failed.
    counts=$(for log in /tmp/container-privileged.log /tmp/container-capabilities.log; do
        grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 | grep . || echo "0 passed, 1 failed"
      done | awk '{ p += $1; f += $3 } END { print p, f }')
    # shellcheck disable=SC2086  # two numbers
    report $counts
    ;;
  cgroups)
    reports=(/tmp/vitest-cgroups.json)
    TEST_CGROUPS_EXCLUSIVE=1 vitest /tmp/vitest-cgroups.json test/nsjail/cgroup-limits.test.ts
    ;;
  *)
    echo "cgroup2-vm: unknown suite '$suite'"
    report 0 1
    ;;
esac
echo "cgroup2-vm: suite took $(( $(date +%s) - started )) s"
counts=$("$node" -e '
  let passed = 0, failed = 0;
  for (const file of process.argv.slice(1)) {
    let r;
    try { r = JSON.parse(require("node:fs").readFileSync(file, "utf8")); } catch { failed++; continue; }
    passed += r.numPassedTests;
    // A file that fails to load fails no test but fails the run: count it once.
    failed += r.numFailedTests + (!r.success && r.numFailedTests === 0 ? 1 : 0);
  }
  console.log(passed, failed);' "${reports[@]}" 2>/dev/null) || counts="0 1"
# shellcheck disable=SC2086  # two numbers
report $counts
