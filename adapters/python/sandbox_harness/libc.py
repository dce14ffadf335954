"""The C library calls the fork server makes that Python's os module does not offer."""

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
# Looked up here, once, rather than by every child (ctypes caches what it has looked up).
for _name in ("mount", "umount2", "unshare", "setns", "prctl", "syscall"):
    getattr(libc, _name)


def check(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
