"""The report's framing on the result channel, and what a lost channel makes of the exit status."""

import json
import os

from conftest import in_child

from sandbox_harness.protocol import READY_LINE, RESULT_CHANNEL_LOST_EXIT
from sandbox_harness.report import report


def test_a_header_line_then_the_body_parts_back_to_back_then_the_channel_closes():
    read_end, write_end = os.pipe()
    report(write_end, {"status": "ok", "resultBytes": 2}, [b"42", b"file", b"\x89PNG"])
    with os.fdopen(read_end, "rb") as channel:
        data = channel.read()  # ends: report() closed the write end
    header_line, body = data.split(b"\n", 1)
    assert json.loads(header_line) == {"status": "ok", "resultBytes": 2}
    assert body == b"42file\x89PNG"


def test_a_channel_the_script_closed_ends_the_harness_with_the_shared_exit_status():
    def report_on_closed_channel():
        read_end, write_end = os.pipe()
        os.close(read_end)
        report(write_end, {"status": "ok", "resultBytes": 0})

    assert in_child(report_on_closed_channel) == ("exited", RESULT_CHANNEL_LOST_EXIT)


def test_the_ready_line_is_one_json_line():
    assert READY_LINE.endswith(b"\n") and READY_LINE.count(b"\n") == 1
    assert json.loads(READY_LINE) == {"status": "ready"}
