"""A forked run's process, from its connections to the harness (fork_server.py, steps 1 to 5).

The server sends "go" as soon as the process is in its cgroup, so a run forked ahead of its
request (a spare) does its whole set-up ahead too, and its request finds it waiting on stdin."""

import json
import os
import signal
import socket
import struct
import sys

from .interpreter import prepare_interpreter
from .isolation import drop_privileges, isolate
from .protocol import CONTROL_FD, RESULT_FD, SETUP_FAILED_EXIT, STARTED_LINE
from .seccomp import install_seccomp
from .serve import serve


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


def run_forked(order, config):
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
        prepare_interpreter()
        reseed_random_state()
        drop_privileges()
        install_seccomp(config["seccomp"])
    except BaseException as exc:
        send(CONTROL_FD, {"error": f"{type(exc).__name__}: {exc}"})
        os._exit(SETUP_FAILED_EXIT)
    send(CONTROL_FD, {"ready": True})
    # A run forked ahead (a spare) is isolated now and waits here for its request. Once it has
    # read it, it says so and closes the channel: until then, nothing of a script has run.
    serve(RESULT_FD, on_request=say_started)


def say_started():
    try:
        os.write(CONTROL_FD, STARTED_LINE)
    except OSError:
        pass  # the server is gone: nobody to tell
    os.close(CONTROL_FD)
