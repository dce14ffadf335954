"""A whole run, as a sandbox's harness does it, in a forked child of the test process."""

import json
import resource
import struct

from conftest import in_child, request

from sandbox_harness.limits import PENDING_SIGNALS, apply_limits
from sandbox_harness.run import run


def run_in_child(req):
    kind, value = in_child(run, req)
    assert kind == "returned", value
    return value


def test_main_returns_its_value_as_the_reports_result(work_dir):
    header, body = run_in_child(request("def main():\n    print('hi')\n    return {'n': 1}\n"))
    assert header == {"status": "ok", "resultBytes": len(b'{"n":1}')}
    assert body == [b'{"n":1}']


def test_args_are_main_keyword_arguments_and_an_async_main_is_awaited(work_dir):
    script = "async def main(a, b=2):\n    return a * b\n"
    assert run_in_child(request(script, args={"a": 21}))[1] == [b"42"]


def test_a_failure_shows_only_the_scripts_frames(work_dir):
    header, body = run_in_child(request("def helper():\n    1 / 0\n\ndef main():\n    helper()\n"))
    assert (header["status"], header["code"], header["message"]) == ("error", "RUNTIME_ERROR", "ZeroDivisionError: division by zero")
    assert header["traceback"].startswith("Traceback (most recent call last):\n  File \"script.py\", line 5, in main\n")
    assert "sandbox_harness" not in header["traceback"]
    assert body == []


def test_exiting_or_running_out_of_memory_are_named(work_dir):
    assert run_in_child(request("import sys\nsys.exit(3)\n"))[0]["message"] == "The script exited (sys.exit(3)) before main() returned"
    header, _ = run_in_child(request("def main():\n    raise MemoryError\n", memoryMb=64))
    assert (header["code"], header["message"], header["limit"]) == ("MEMORY_LIMIT_EXCEEDED", "Memory limit exceeded (64 MB)", "memory")


def test_files_the_run_wrote_follow_the_result(work_dir):
    script = "def main():\n    open('out.txt', 'w').write('hello')\n    return 1\n"
    header, body = run_in_child(request(script, files=[{"path": "in.txt", "content": "kept"}]))
    assert header["files"] == [{"path": "out.txt", "size": 5, "contentBytes": 5}]
    assert header["filesTruncated"] is False
    assert body == [b"1", b"hello"]


def test_figures_shown_and_left_open_are_pngs_within_the_figure_cap(work_dir):
    script = (
        "import matplotlib.pyplot as plt\n"
        "def main():\n"
        "    for size in (2, 3, 4):\n"
        "        plt.figure(figsize=(size, 1), dpi=100)\n"
        "        plt.plot([1, 2])\n"
        "        if size == 2:\n"
        "            plt.show()\n"
        "    return None\n"
    )
    header, body = run_in_child(request(script))
    assert header["figures"] == [
        {"width": 200, "height": 100, "contentBytes": len(body[1])},
        {"width": 300, "height": 100, "contentBytes": len(body[2])},
    ]
    assert header["figuresTruncated"] is True
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in body[1:])
    assert struct.unpack(">II", body[1][16:24]) == (200, 100)


def test_the_runs_limits_are_set_on_the_harness_itself():
    def limits_after():
        apply_limits({"cpuSeconds": 5, "openFiles": 64, "fileSizeBytes": 1 << 20})
        return [resource.getrlimit(which) for which in (resource.RLIMIT_CPU, resource.RLIMIT_NOFILE, resource.RLIMIT_FSIZE, resource.RLIMIT_CORE, resource.RLIMIT_SIGPENDING)]

    kind, value = in_child(limits_after)
    assert kind == "returned"
    # CPU: the soft limit (SIGXCPU, reported) below the hard one (SIGKILL).
    assert value == [(5, 6), (64, 64), (1 << 20, 1 << 20), (0, 0), (PENDING_SIGNALS, PENDING_SIGNALS)]


def test_the_request_is_json_with_the_fields_the_server_sends(work_dir):
    # The server's HarnessRequest (harness-protocol.ts) as the harness reads it.
    wire = json.loads(json.dumps(request("def main():\n    return 0\n", args={})))
    assert run_in_child(wire)[0] == {"status": "ok", "resultBytes": 1}
