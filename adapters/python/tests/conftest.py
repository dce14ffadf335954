"""The harness package's tests run without a sandbox: the package is imported from its source."""

import os
import pickle
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def in_child(function, *args):
    """function(*args) in a forked child, for what changes the process for good (rlimits, the
    script's module, exit handlers): ("returned", value), ("raised", repr) or ("exited", status)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            outcome = ("returned", function(*args))
        except BaseException as exc:
            outcome = ("raised", repr(exc))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(pickle.dumps(outcome))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    return pickle.loads(data) if data else ("exited", os.waitstatus_to_exitcode(status))


@pytest.fixture
def work_dir(tmp_path, monkeypatch):
    """A fresh, empty work dir as the cwd, as a sandbox gives each run."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def request(script, **fields):
    """A harness request as the server sends it."""
    return {
        "script": script,
        "entry": "main",
        "limits": {},
        "memoryMb": 256,
        "maxResultBytes": 1 << 20,
        "artifactLimits": {"maxFiles": 10, "maxBytes": 1 << 20, "maxFigures": 2},
        **fields,
    }
