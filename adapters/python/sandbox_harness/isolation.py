"""A forked run's own mounts, uid and namespaces, and its capabilities dropped (fork_server.py,
steps 3 to 5)."""

import ctypes
import errno
import os
import struct

from .libc import check, libc
from .protocol import WORK_DIR

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SYS_CAPSET = 126
LINUX_CAPABILITY_VERSION_3 = 0x20080522


def fresh_mounts(proc):
    """The fork server's own writable tmpfs mounts under /sandbox (the work and cache dirs),
    each as (mount point, size, inode and mode options): every run gets fresh copies."""
    with open(os.path.join(proc, "self", "mountinfo")) as table:
        mounts = writable_tmpfs_mounts(table)
    if not any(point == WORK_DIR for point, _ in mounts):
        raise RuntimeError(f"no {WORK_DIR} mount in the fork server")
    return mounts


def writable_tmpfs_mounts(mountinfo_lines):
    mounts = []
    for line in mountinfo_lines:
        fields = line.split()
        dash = fields.index("-")
        point, flags, fstype = fields[4], fields[5].split(","), fields[dash + 1]
        if fstype == "tmpfs" and point.startswith("/sandbox/") and "rw" in flags:
            options = fields[dash + 3].split(",")
            mounts.append((point, ",".join(o for o in options if o.split("=")[0] in ("size", "nr_inodes", "mode"))))
    return mounts


def write_file(dir_fd, path, text):
    fd = os.open(path, os.O_WRONLY, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def isolate(order, config):
    """Steps 3 and 4: the run's own mounts, uid and namespaces."""
    uid, gid = order["uid"], order["gid"]
    check(libc.unshare(CLONE_NEWNS), "unshare(mount)")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    proc = os.open(config["proc"], os.O_RDONLY | os.O_DIRECTORY)
    try:
        for path in (config["proc"], config["channels"]):
            check(libc.umount2(path.encode(), MNT_DETACH), f"umount {path}")
        for path, options in config["freshMounts"]:
            check(libc.umount2(path.encode(), MNT_DETACH), f"umount {path}")
            options = f"{options},uid={uid},gid={gid}".encode()
            check(libc.mount(b"none", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), f"mount {path}")
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        os.chdir(WORK_DIR)
        # A uid change makes the process undumpable, which makes its /proc files root's: the
        # maps below are written to its own /proc files.
        check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
        check(libc.unshare(CLONE_NEWUSER), "unshare(user)")
        write_file(proc, "self/setgroups", "deny")
        write_file(proc, "self/uid_map", f"65534 {uid} 1")
        write_file(proc, "self/gid_map", f"65534 {gid} 1")
    finally:
        os.close(proc)
    check(libc.unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP), "unshare")


def drop_privileges():
    """Every capability dropped and no_new_privs set: nothing the run executes can gain any."""
    cap = 0
    while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    if ctypes.get_errno() != errno.EINVAL:  # EINVAL: past the last capability the kernel knows
        check(-1, f"drop capability {cap} from the bounding set")
    check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header = struct.pack("=Ii", LINUX_CAPABILITY_VERSION_3, 0)
    check(libc.syscall(SYS_CAPSET, header, bytes(24)), "capset")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
