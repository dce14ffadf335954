"""A fork server (zygote): one interpreter that imported numpy and pandas once and forks a
fresh, isolated child for every run, so a run costs the script's work, not a new interpreter.

The server starts it as the only process of a long-lived jail of its own (nsjail.cfg, with the
changes listed in adapters/zygote/zygote-argv.ts):
  python -c <this source> --harness <harness.py source> --preload <modules> --result-fd 3
         --channels <dir> --proc <dir> --child-seccomp <json rules>

  stdin      one JSON line per order: {"run": "<channel name>", "uid": <uid>, "gid": <gid>}
             forks a run; {"kill": "<channel name>"} kills a run's process (its time is up)
  result fd  {"status":"ready"} once the preloaded modules are imported; then per run
             {"run": ..., "pid": <pid here>} when forked, {"run": ..., "exitCode": n} or
             {"run": ..., "signal": n} when it ended, or {"run": ..., "error": ...} for a
             fork that failed. Nothing of a run's output passes here.

Each run is one process, forked as pid 1 of a new pid namespace, so that when it ends every
process it started ends with it and its exit status (reaped here) is the run's. Before the
script runs, it runs only this file's code:
  1. it connects to the run's unix socket <channels>/<run> five times, a tag byte first on
     each: "c" its control channel to the server, "0" to "3" the harness's stdin, stdout, stderr
     and result channel;
  2. it waits for "go" on the control channel: meanwhile the server moves it into the run's
     cgroup, so everything the run forks and allocates is counted there;
  3. it takes a mount namespace of its own: drops the channel and /proc mounts, and replaces
     the fork server's writable tmpfs dirs (work and cache, from nsjail.cfg) with fresh ones of
     the same size and inode caps;
  4. it switches to the run's uid and takes a user namespace of its own in which that uid is
     65534, then net, ipc, uts and cgroup namespaces owned by it;
  5. it drops every capability, sets no_new_privs, installs the seccomp filter of nsjail.cfg
     (on top of the fork server's own, which allows what steps 3 and 4 need), says "ready" (or
     what failed) on the control channel, closes it, and runs the harness's own per-run code
     (harness.serve) on fds 0 to 3.
"""

import ctypes
import errno
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import types

CONTROL_FD = 4
RESULT_FD = 3
READY_LINE = b'{"status":"ready"}\n'
# Exit status of a run whose set-up failed (it said why on its control channel, if it could).
SETUP_FAILED_EXIT = 87
WORK_DIR = "/sandbox/work"

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
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2
SYS_CAPSET = 126
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# The script shares this interpreter: os._exit as it was before any script could replace it.
_exit = os._exit
libc = ctypes.CDLL(None, use_errno=True)
# Looked up here, once, rather than by every child (ctypes caches what it has looked up).
for _name in ("mount", "umount2", "unshare", "setns", "prctl", "syscall"):
    getattr(libc, _name)


def check(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def parse_args(argv):
    options = {}
    args = iter(argv)
    for arg in args:
        if arg.startswith("--"):
            options[arg[2:]] = next(args)
    return options


def load_harness(source):
    """harness.py as a module of its own: the children run exactly its per-run code."""
    harness = types.ModuleType("harness")
    harness.__file__ = "harness.py"
    exec(compile(source, "harness.py", "exec"), harness.__dict__)
    return harness


def fresh_mounts(proc):
    """The fork server's own writable tmpfs mounts under /sandbox (nsjail.cfg's work and cache
    dirs), each as (mount point, size, inode and mode options): every run gets fresh copies."""
    mounts = []
    with open(os.path.join(proc, "self", "mountinfo")) as table:
        for line in table:
            fields = line.split()
            dash = fields.index("-")
            point, flags, fstype = fields[4], fields[5].split(","), fields[dash + 1]
            if fstype == "tmpfs" and point.startswith("/sandbox/") and "rw" in flags:
                options = fields[dash + 3].split(",")
                mounts.append((point, ",".join(o for o in options if o.split("=")[0] in ("size", "nr_inodes", "mode"))))
    if not any(point == WORK_DIR for point, _ in mounts):
        raise RuntimeError(f"no {WORK_DIR} mount in the fork server")
    return mounts


# --- seccomp -------------------------------------------------------------------------------

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
# struct seccomp_data: nr, arch, instruction pointer, then args[6] as 64-bit little-endian words.
NR_OFFSET, ARCH_OFFSET, ARGS_OFFSET = 0, 4, 16


def rule_block(rule):
    """The instructions after a rule's syscall number matched, every path ending in a return:
    the rule's errno when its argument test holds (Kafel's unsigned 64-bit comparisons, with
    32-bit constants, so the argument's high word decides first), else allow."""
    deny = (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | rule["errno"])
    allow = (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
    if "arg" not in rule:
        return [deny]
    low = (BPF_LD_W_ABS, 0, 0, ARGS_OFFSET + 8 * rule["arg"])
    high = (BPF_LD_W_ABS, 0, 0, ARGS_OFFSET + 8 * rule["arg"] + 4)
    if "maskedNonZero" in rule:  # (x & mask) != 0
        return [low, (BPF_JSET_K, 0, 1, rule["maskedNonZero"]), deny, allow]
    if "lowWordEquals" in rule:  # low == value, whatever the high word (the kernel reads an int)
        return [low, (BPF_JEQ_K, 0, 1, rule["lowWordEquals"]), deny, allow]
    if "atLeast" in rule:  # high != 0 or low >= value
        return [high, (BPF_JEQ_K, 0, 2, 0), low, (BPF_JGE_K, 0, 1, rule["atLeast"]), deny, allow]
    values = rule["notIn"]  # high != 0 or low is none of the values
    block = [high, (BPF_JEQ_K, 0, len(values) + 1, 0), low]
    for index, value in enumerate(values):
        block.append((BPF_JEQ_K, len(values) - index, 0, value))
    return block + [deny, allow]


def seccomp_program(rules):
    """A classic BPF program: x86-64 only, x32 numbers refused, each rule's syscall denied with its errno."""
    program = [
        (BPF_LD_W_ABS, 0, 0, ARCH_OFFSET),
        (BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, NR_OFFSET),
        (BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
    ]
    for rule in rules:
        block = rule_block(rule)
        program.append((BPF_JEQ_K, 0, len(block), rule["nr"]))
        program.extend(block)
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program), len(program)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def install_seccomp(program):
    code, length = program
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(SockFprog(length, code)), 0, 0), "seccomp")


# --- the run's isolation -------------------------------------------------------------------


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


def drop_capabilities():
    cap = 0
    while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    if ctypes.get_errno() != errno.EINVAL:  # EINVAL: past the last capability the kernel knows
        check(-1, f"drop capability {cap} from the bounding set")
    check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header = struct.pack("=Ii", LINUX_CAPABILITY_VERSION_3, 0)
    check(libc.syscall(SYS_CAPSET, header, bytes(24)), "capset")


def reseed_random_state():
    """A fork copies the zygote's random generator states: the legacy numpy one is reseeded here
    (the random module reseeds itself after a fork)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        # 128 bits, as seed() would draw, without its SeedSequence machinery (a tenth of the cost).
        numpy.random.seed(list(struct.unpack("=4I", os.urandom(16))))


def send(fd, message):
    data = json.dumps(message).encode() + b"\n"
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass  # the server is gone: nobody to tell


def connect_channels(path):
    """Step 1: the run's five connections; fds 0 to 3 are the harness's, CONTROL_FD its own set-up's."""
    for fd, tag in ((CONTROL_FD, b"c"), (0, b"0"), (1, b"1"), (2, b"2"), (RESULT_FD, b"3")):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(path)
        connection.sendall(tag)
        if connection.fileno() == fd:
            connection.detach()
        else:
            os.dup2(connection.fileno(), fd, inheritable=fd < RESULT_FD)
            connection.close()
    os.closerange(CONTROL_FD + 1, os.sysconf("SC_OPEN_MAX"))


def run(order, harness, config):
    """The run's process (steps 1 to 5), pid 1 of its own pid namespace. Never returns."""
    # Not the fork server's child handling: a SIGCHLD must not write into an fd number the run reuses.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # A session of its own, as nsjail gives a jail: kill(0, sig) and the session-wide SIGCONT
    # then reach only this run's processes, never other runs or the fork server.
    os.setsid()
    try:
        connect_channels(os.path.join(config["channels"], order["run"]))
    except BaseException:
        os._exit(SETUP_FAILED_EXIT)
    try:
        if os.read(CONTROL_FD, 3) != b"go\n":
            os._exit(0)  # the server gave the run up
        isolate(order, config)
        # A fresh cache dir: its seeded caches too, as in a jail of its own.
        harness.prepare_interpreter()
        reseed_random_state()
        drop_capabilities()
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        install_seccomp(config["seccomp"])
    except BaseException as exc:
        send(CONTROL_FD, {"error": f"{type(exc).__name__}: {exc}"})
        os._exit(SETUP_FAILED_EXIT)
    send(CONTROL_FD, {"ready": True})
    os.close(CONTROL_FD)
    harness.serve(RESULT_FD)


# --- the fork server -----------------------------------------------------------------------


def exit_status(status):
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exitCode": os.WEXITSTATUS(status)}


class ForkServer:
    """Reads fork orders and reaps runs; a run can reach neither its command pipe nor its replies.

    Its fds do not grow with the runs in flight: a SIGCHLD wakes it through one pipe, and a run's
    process, its unreaped child, is known by its pid, which cannot be another's until reaped here."""

    def __init__(self, harness, config):
        self.harness = harness
        self.config = config
        self.replies = config["resultFd"]
        self.commands = b""
        # Its own pid namespace, to return to after each fork into a new one.
        self.own_pid_ns = os.open(os.path.join(config["proc"], "self", "ns", "pid"), os.O_RDONLY)
        self.children_ended, wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.poll = select.poll()
        self.poll.register(0, select.POLLIN)
        self.poll.register(self.children_ended, select.POLLIN)
        self.runs = {}  # pid -> run name

    def serve(self):
        while True:
            for fd, _ in self.poll.poll():
                if fd == 0:
                    chunk = os.read(0, 65536)
                    if not chunk:
                        return
                    self.commands += chunk
                    while b"\n" in self.commands:
                        line, self.commands = self.commands.split(b"\n", 1)
                        order = json.loads(line)
                        if "kill" in order:
                            self.kill(order["kill"])
                        elif "ping" in order:
                            send(self.replies, {"pong": order["ping"]})
                        else:
                            self.fork(order)
                else:
                    self.reap()

    def fork(self, order):
        # The child is born pid 1 of a new pid namespace: when it ends, so does all it started.
        try:
            check(libc.unshare(CLONE_NEWPID), "unshare(pid)")
            try:
                pid = os.fork()
            except OSError:
                self.leave_new_pid_namespace()
                raise
        except OSError as exc:
            send(self.replies, {"run": order["run"], "error": str(exc)})
            return
        if pid == 0:
            # run() ends the process. Should a script break that (os._exit replaced), the child
            # still never goes on as the fork server: it ends as its interpreter would.
            try:
                run(order, self.harness, self.config)
            except BaseException:
                sys.__excepthook__(*sys.exc_info())
                _exit(1)
            _exit(0)
        self.leave_new_pid_namespace()
        self.runs[pid] = order["run"]
        send(self.replies, {"run": order["run"], "pid": pid})

    def leave_new_pid_namespace(self):
        """The next child's pid namespace is new again only after the fork server returned to its own."""
        check(libc.setns(self.own_pid_ns, CLONE_NEWPID), "setns(pid)")

    def kill(self, name):
        """SIGKILL to the run's process, pid 1 of its namespace: the kernel ends all it started.
        Its pid is still its own: only reap() frees it, and not before the order is read."""
        for pid, run_name in self.runs.items():
            if run_name == name:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass  # the server then kills the run through its cgroup

    def reap(self):
        try:
            while os.read(self.children_ended, 4096):
                pass
        except BlockingIOError:
            pass
        while self.runs:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            name = self.runs.pop(pid, None)
            if name is not None:
                send(self.replies, {"run": name, **exit_status(status)})


def single_threaded(proc):
    """fork() copies only the calling thread: a zygote with others (a library's pool) would hand
    its children locks held by threads that do not exist there."""
    return len(os.listdir(os.path.join(proc, "self", "task"))) == 1


def main():
    options = parse_args(sys.argv[1:])
    result_fd = int(options["result-fd"])
    os.set_inheritable(result_fd, False)
    harness = load_harness(options["harness"])
    # As harness.py says a caller that forks per request does: once, before any fork.
    harness.prepare_interpreter()
    harness.preload_modules([name for name in options["preload"].split(",") if name])
    if not single_threaded(options["proc"]):
        raise SystemExit("zygote: the preloaded modules started threads; children cannot be forked safely")
    config = {
        "resultFd": result_fd,
        "channels": options["channels"],
        "proc": options["proc"],
        "freshMounts": fresh_mounts(options["proc"]),
        "seccomp": seccomp_program(json.loads(options["child-seccomp"])),
    }
    server = ForkServer(harness, config)
    # Every object so far stays out of the collector's reach, so children do not copy the
    # pages a collection would write to.
    gc.freeze()
    os.write(result_fd, READY_LINE)
    server.serve()


if __name__ == "__main__":
    main()
