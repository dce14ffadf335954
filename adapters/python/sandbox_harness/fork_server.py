"""A fork server (zygote): one interpreter that imported numpy and pandas once and forks a
fresh, isolated child for every run, so a run costs the script's work, not a new interpreter.

The server starts it as the only process of a long-lived jail of its own (nsjail.cfg, with the
changes listed in adapters/fork-server/zygote-argv.ts):
  python -c <bootstrap: sandbox_harness.fork_server.main()> --preload <modules> --result-fd 3
         --channels <dir> --proc <dir> --child-seccomp <json rules>

  stdin      one JSON line per order: {"run": "<channel name>", "uid": <uid>, "gid": <gid>}
             forks a run ("bare": true forks it from the bare fork server, below);
             {"kill": "<channel name>"} kills a run's process (its time is up);
             {"ping": n} is answered {"pong": n} once both fork servers have read it
  result fd  the ready line once the preloaded modules are imported; then per run
             {"run": ..., "pid": <pid here>} when forked (with "parent": <pid here> for a
             run of the bare fork server), {"run": ..., "exitCode": n} or
             {"run": ..., "signal": n} when it ended, or {"run": ..., "error": ...} for a
             fork that failed. Nothing of a run's output passes here.

Before its imports it forks the bare fork server: the same loop over an interpreter that imported
only this package, for scripts that name none of the preloaded modules. A fork of it costs a
fraction of a fork of the preloaded one (whose written heap every fork copies and every exit tears
down). It reads its orders from a pipe of the preloaded one, which passes on the bare orders,
every kill and every ping, and it writes its replies to the same result fd (each one line, written
whole). When either ends, so does the other.

Each run is one process, forked as pid 1 of a new pid namespace, so that when it ends every
process it started ends with it and its exit status (reaped here) is the run's. Before the
script runs, it runs only this package's code (forked_run.py):
  1. it connects to the run's unix socket <channels>/<run> five times, a tag byte first on
     each: "c" its control channel to the server, "0" to "3" the harness's stdin, stdout, stderr
     and result channel;
  2. it waits for "go" on the control channel: meanwhile the server moves it into the run's
     cgroup, so everything the run forks and allocates is counted there;
  3. it takes a mount namespace of its own: drops the channel and /proc mounts, and replaces
     the fork server's writable tmpfs dirs (work and cache) with fresh ones of the same size
     and inode caps;
  4. it switches to the run's uid and takes a user namespace of its own in which that uid is
     65534, then net, ipc, uts and cgroup namespaces owned by it;
  5. it drops every capability, sets no_new_privs, installs the seccomp filter of nsjail.cfg
     (on top of the fork server's own, which allows what steps 3 and 4 need), says "ready" (or
     what failed) on the control channel and runs the harness (serve.serve) on fds 0 to 3,
     which waits for its request (a run forked ahead of its request waits here, isolated);
     once the request is read it says "started" and closes the control channel.
"""

import gc
import json
import os
import select
import signal
import sys

from .forked_run import run_forked, send
from .interpreter import preload_modules, prepare_interpreter
from .isolation import CLONE_NEWPID, fresh_mounts
from .libc import check, libc
from .protocol import READY_LINE
from .seccomp import seccomp_program

# The script shares this interpreter: os._exit as it was before any script could replace it.
_exit = os._exit


def parse_args(argv):
    options = {}
    args = iter(argv)
    for arg in args:
        if arg.startswith("--"):
            options[arg[2:]] = next(args)
    return options


def exit_status(status):
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exitCode": os.WEXITSTATUS(status)}


class ForkServer:
    """Reads fork orders and reaps runs; a run can reach neither its command pipe nor its replies.

    Its fds do not grow with the runs in flight: a SIGCHLD wakes it through one pipe, and a run's
    process, its unreaped child, is known by its pid, which cannot be another's until reaped here.

    The preloaded one holds the bare one (`bare`: its pid and the write end of its order pipe)."""

    def __init__(self, config, bare=None):
        self.config = config
        self.bare = bare
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
                        self.obey(line)
                else:
                    self.reap()

    def obey(self, line):
        order = json.loads(line)
        if self.bare is not None and ("ping" in order or "kill" in order or order.get("bare")):
            # Written whole (a line is far below PIPE_BUF); a bare fork server gone ends this one too.
            os.write(self.bare["orders"], line + b"\n")
            if "kill" not in order:
                return
        if "kill" in order:
            self.kill(order["kill"])
        elif "ping" in order:
            send(self.replies, {"pong": order["ping"]})
        else:
            self.fork(order)

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
            # run_forked() ends the process. Should a script break that (os._exit replaced), the
            # child still never goes on as the fork server: it ends as its interpreter would.
            try:
                run_forked(order, self.config)
            except BaseException:
                sys.__excepthook__(*sys.exc_info())
                _exit(1)
            _exit(0)
        self.leave_new_pid_namespace()
        self.runs[pid] = order["run"]
        send(self.replies, {"run": order["run"], "pid": pid, **({"parent": os.getpid()} if order.get("bare") else {})})

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
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.bare is not None and pid == self.bare["pid"]:
                raise SystemExit(f"zygote: the bare fork server ended ({exit_status(status)})")
            name = self.runs.pop(pid, None)
            if name is not None:
                send(self.replies, {"run": name, **exit_status(status)})


def single_threaded(proc):
    """fork() copies only the calling thread: a zygote with others (a library's pool) would hand
    its children locks held by threads that do not exist there."""
    return len(os.listdir(os.path.join(proc, "self", "task"))) == 1


def serve_frozen(server):
    # Every object so far stays out of the collector's reach, so children do not copy the
    # pages a collection would write to.
    gc.freeze()
    server.serve()


def start_bare(config):
    """Forks the bare fork server (this interpreter before its preloads), reading its orders
    from a pipe; returns its pid and the pipe's write end. The child never returns."""
    orders, to_bare = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(orders, 0, inheritable=False)
            os.close(orders)
            os.close(to_bare)
            serve_frozen(ForkServer(config))
        except BaseException:
            sys.__excepthook__(*sys.exc_info())
            _exit(1)
        _exit(0)  # the preloaded fork server is gone: its order pipe is closed
    os.close(orders)
    return {"pid": pid, "orders": to_bare}


def main():
    options = parse_args(sys.argv[1:])
    result_fd = int(options["result-fd"])
    os.set_inheritable(result_fd, False)
    # As a harness process does: once, before any fork.
    prepare_interpreter()
    config = {
        "resultFd": result_fd,
        "channels": options["channels"],
        "proc": options["proc"],
        "freshMounts": fresh_mounts(options["proc"]),
        "seccomp": seccomp_program(json.loads(options["child-seccomp"])),
    }
    if not single_threaded(options["proc"]):
        raise SystemExit("zygote: the harness started threads; children cannot be forked safely")
    bare = start_bare(config)
    preload_modules([name for name in options["preload"].split(",") if name])
    if os.waitpid(bare["pid"], os.WNOHANG)[0] != 0:
        raise SystemExit("zygote: the bare fork server ended during the imports")
    if not single_threaded(options["proc"]):
        raise SystemExit("zygote: the preloaded modules started threads; children cannot be forked safely")
    server = ForkServer(config, bare)
    os.write(result_fd, READY_LINE)
    serve_frozen(server)
