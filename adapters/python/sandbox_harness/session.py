"""A session: one interpreter that runs cell after cell in one namespace, `__main__`, until the
server closes its requests channel or ends the process."""

import json
import os
import sys
import types

from .output_files import work_dir_files
from .report import flush_output, report_frame
from .run import run
from .safe_files import write_all


class Session:
    """What outlives a cell: the namespace, and what the work dir held before the cell."""

    def __init__(self):
        self.module = types.ModuleType("__main__")
        sys.modules["__main__"] = self.module
        self.files_before = {}


def serve_session(result_fd, requests_fd, opening, pending):
    """The opening request (limits, the session's first files) is a cell without code; then one
    cell per line on requests_fd. After each, the marker on stdout and stderr ends its output
    (the server cuts the streams there), and its report is framed on result_fd. Never returns."""
    harness_pid = os.getpid()
    marker = opening["session"]["marker"].encode("ascii")
    session = Session()
    request = opening
    while request is not None:
        session.files_before = work_dir_files()
        header, body = run(request, session)
        if os.getpid() != harness_pid:
            flush_output()  # a process the cell forked came back out of it: only the harness reports
            os._exit(0)
        end_output(marker)
        report_frame(result_fd, header, body)
        request, pending = next_request(requests_fd, pending)
    flush_output()
    os._exit(0)


def end_output(marker):
    flush_output()
    for fd in (1, 2):
        try:
            write_all(fd, marker)
        except OSError:
            pass  # the cell closed the stream: its output ends with its process


def next_request(fd, pending):
    """The next line's request and what was read past it; None once the server closed the channel."""
    while b"\n" not in pending:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return None, pending
        pending += chunk
    line, _, rest = bytes(pending).partition(b"\n")
    return json.loads(line), bytearray(rest)
