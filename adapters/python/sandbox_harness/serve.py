"""A harness process: one request from stdin, one run, one report on the result fd; then it ends
(or, for a session's request, cell after cell: session.py)."""

import atexit
import json
import os
import sys

from .interpreter import preload_modules, prepare_interpreter
from .protocol import READY_LINE
from .report import flush_output, report
from .run import run
from .safe_files import write_all
from .session import serve_session


def parse_args(argv):
    """The result fd, and the modules to preload (None: not a pre-started harness)."""
    result_fd, preload = None, None
    args = iter(argv)
    for arg in args:
        if arg == "--result-fd":
            result_fd = int(next(args))
        elif arg == "--preload":
            preload = [name for name in next(args).split(",") if name]
    if result_fd is None:
        raise SystemExit("harness: --result-fd is required")
    return result_fd, preload


def read_request():
    """The request on stdin (up to its end, or its line's), and the rest read past it. A session's
    request keeps stdin open for its cells: it moves to a descriptor of the harness's own."""
    data = bytearray()
    while b"\n" not in data:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        data += chunk
    line, _, rest = bytes(data).partition(b"\n")
    request = json.loads(line.decode("utf-8"))
    requests_fd = os.dup(0) if "session" in request else None
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return request, requests_fd, bytearray(rest)


def main():
    result_fd, preload = parse_args(sys.argv[1:])
    os.set_inheritable(result_fd, False)
    prepare_interpreter()
    if preload is not None:
        preload_modules(preload)
        write_all(result_fd, READY_LINE)
    serve(result_fd)


def serve(result_fd, on_request=None):
    """One run: the request from stdin, the script, the report on result_fd; then the process
    ends. Every backend's sandbox runs this, the fork server's children included (which say,
    with `on_request`, that their request is read)."""
    harness_pid = os.getpid()
    request, requests_fd, pending = read_request()
    if on_request is not None:
        on_request()
    if requests_fd is not None:
        serve_session(result_fd, requests_fd, request, pending)
    header, body = run(request)
    if os.getpid() != harness_pid:
        # A process the script forked came back out of main() (or failed in it): only the
        # harness itself reports, so a child can neither garble nor pre-empt the result.
        flush_output()
        os._exit(0)
    report(result_fd, header, body)
    # Exit handlers run (their prints are output like any other), but a lingering
    # non-daemon thread must not keep the sandbox alive after main() has returned.
    try:
        atexit._run_exitfuncs()
    finally:
        flush_output()
        # Closed before the exit: the server can answer now, while the kernel still tears the
        # process down (the streams' other holders, processes the script started, may keep them open).
        os.closerange(0, 3)
        os._exit(0)
