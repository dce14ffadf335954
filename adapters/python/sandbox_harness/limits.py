"""The run's resource limits, which the harness sets on itself before the script's first line."""

import resource

# Signals a run may have queued at once. A jail's user namespace belongs to root, so its queued
# signals also count against host root's RLIMIT_SIGPENDING: each run gets a small share.
PENDING_SIGNALS = 64

RLIMITS = {
    "addressSpaceBytes": resource.RLIMIT_AS,
    "cpuSeconds": resource.RLIMIT_CPU,
    "fileSizeBytes": resource.RLIMIT_FSIZE,
    "openFiles": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}


def apply_limits(limits):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_SIGPENDING, (PENDING_SIGNALS, PENDING_SIGNALS))
    for key, which in RLIMITS.items():
        value = limits.get(key)
        if value is None:
            continue
        soft, hard = resource.getrlimit(which)
        if which == resource.RLIMIT_CPU:
            # The soft limit sends SIGXCPU (reported as a CPU timeout), the hard one SIGKILL,
            # so the soft one must stay below any hard limit the sandbox already set.
            if hard == resource.RLIM_INFINITY:
                resource.setrlimit(which, (value, value + 1))
            else:
                resource.setrlimit(which, (max(1, min(value, hard - 1)), hard))
            continue
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
