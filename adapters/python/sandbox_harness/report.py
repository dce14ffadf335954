"""The report on the result channel: a JSON header line, then the body's parts as raw bytes."""

import json
import os
import sys

from .protocol import RESULT_CHANNEL_LOST_EXIT
from .safe_files import write_all


def flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def report(result_fd, header, body=()):
    """Writes the header line and the body's parts to the result channel, and closes it."""
    flush_output()
    try:
        write_all(result_fd, json.dumps(header).encode("utf-8") + b"\n")
        for part in body:
            write_all(result_fd, part)
        os.close(result_fd)
    except OSError:
        # The script closed the channel (or replaced it): say so by the exit status alone.
        os._exit(RESULT_CHANNEL_LOST_EXIT)


def report_frame(result_fd, header, body=()):
    """A session's report: its length in decimal and a newline, then the report as report()
    writes it; the channel stays open for the next cell's."""
    flush_output()
    payload = json.dumps(header).encode("utf-8") + b"\n" + b"".join(body)
    try:
        write_all(result_fd, b"%d\n" % len(payload) + payload)
    except OSError:
        os._exit(RESULT_CHANNEL_LOST_EXIT)
