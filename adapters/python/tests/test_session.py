"""A session: the harness serves cell after cell in one namespace (serve.py, session.py), run
here as the server runs it, a process with its request channel, streams and result channel."""

import json
import os
import subprocess
import sys

import pytest
from conftest import request

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "\x1e" + "m" * 32 + "\x1e"


class HarnessSession:
    """The harness process with its channels, as the server drives a session's."""

    def __init__(self, work_dir, **opening):
        read_end, write_end = os.pipe()
        bootstrap = "import sys; sys.path.insert(0, sys.argv.pop(1)); import sandbox_harness.serve as s; s.main()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", bootstrap, PACKAGE_DIR, "--result-fd", str(write_end)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=work_dir,
            pass_fds=(write_end,),
        )
        os.close(write_end)
        self.reports = os.fdopen(read_end, "rb")
        first = request("", entry="cell", session={"marker": MARKER}, **opening)
        self.process.stdin.write(json.dumps(first).encode() + b"\n")
        self.process.stdin.flush()
        self.opening = self.exchange_report()
        # The opening's output ends with the marker too.
        self.opening_output = self.until_marker(self.process.stdout), self.until_marker(self.process.stderr)

    def cell(self, code, **fields):
        """The cell's report header, its result (parsed) and its stdout and stderr."""
        cell_request = {"script": code, "entry": "cell", "memoryMb": 256, "maxResultBytes": 1 << 20, "cellTimeoutMs": 5000}
        cell_request["artifactLimits"] = {"maxFiles": 10, "maxBytes": 1 << 20, "maxFigures": 2}
        cell_request.update(fields)
        self.process.stdin.write(json.dumps(cell_request).encode() + b"\n")
        self.process.stdin.flush()
        header, body = self.exchange_report()
        return header, body, self.until_marker(self.process.stdout), self.until_marker(self.process.stderr)

    def exchange_report(self):
        length = int(self.reports.readline())
        payload = self.reports.read(length)
        line, _, body = payload.partition(b"\n")
        return json.loads(line), body

    def until_marker(self, stream):
        data = b""
        while not data.endswith(MARKER.encode()):
            data += stream.read(1)
        return data[: -len(MARKER)].decode()

    def close(self):
        self.process.stdin.close()
        return self.process.wait(10)


@pytest.fixture
def session(tmp_path):
    opened = HarnessSession(tmp_path)
    yield opened
    opened.process.kill()
    opened.process.wait()


def test_the_opening_is_a_cell_without_code(session):
    assert session.opening == ({"status": "ok", "resultBytes": 4}, b"null")


def test_later_cells_see_earlier_variables_imports_and_functions(session):
    session.cell("import math\nx = 41\ndef inc(v):\n    return v + 1\n")
    header, body, _, _ = session.cell("inc(x) + math.floor(0.5)")
    assert (header["status"], body) == ("ok", b"42")


def test_each_cells_output_is_its_own(session):
    _, _, out, err = session.cell("print('one')\nimport sys\nprint('uno', file=sys.stderr)")
    assert (out, err) == ("one\n", "uno\n")
    _, _, out, err = session.cell("import os\nos.write(1, b'two\\n')\n")
    assert (out, err) == ("two\n", "")


def test_the_namespace_is_main_and_main_is_never_called(session):
    header, body, _, _ = session.cell("def main():\n    raise SystemExit('called')\n__name__")
    assert (header["status"], body) == ("ok", b'"__main__"')


def test_a_failing_cell_keeps_the_state(session):
    session.cell("x = 1")
    header, _, _, _ = session.cell("x = 2\n1 / 0")
    assert (header["code"], header["message"]) == ("RUNTIME_ERROR", "ZeroDivisionError: division by zero")
    assert session.cell("x")[1] == b"2"


def test_a_cell_is_interrupted_at_its_time_limit_and_the_session_goes_on(session):
    session.cell("x = 'kept'")
    header, _, _, _ = session.cell("import time\nprint('started')\ntime.sleep(30)", cellTimeoutMs=300)
    assert header["code"] == "TIMEOUT"
    assert "KeyboardInterrupt" in header["traceback"]
    assert session.cell("x")[1] == b'"kept"'


def test_a_keyboard_interrupt_of_the_cells_own_is_a_runtime_error(session):
    assert session.cell("raise KeyboardInterrupt")[0]["code"] == "RUNTIME_ERROR"


def test_files_are_those_the_cell_created_or_changed(session):
    header, _, _, _ = session.cell("open('a.txt', 'w').write('a')\nopen('b.txt', 'w').write('b')")
    assert [entry["path"] for entry in header["files"]] == ["a.txt", "b.txt"]
    header, body, _, _ = session.cell("open('b.txt', 'w').write('bb')\nopen('a.txt').read()")
    assert [entry["path"] for entry in header["files"]] == ["b.txt"]
    assert body.startswith(b'"a"')


def test_a_cells_files_replace_earlier_ones(session):
    files = [{"path": "data.csv", "content": "1", "encoding": "utf-8"}]
    session.cell("", files=files)
    files = [{"path": "data.csv", "content": "2", "encoding": "utf-8"}]
    assert session.cell("open('data.csv').read()", files=files)[1] == b'"2"'


def test_sys_exit_ends_the_cell_not_the_session(session):
    assert session.cell("import sys\nsys.exit(1)")[0]["code"] == "SCRIPT_EXITED"
    assert session.cell("1 + 1")[1] == b"2"


def test_closing_the_requests_channel_ends_the_session(session):
    assert session.close() == 0


def test_the_opening_writes_the_sessions_files(tmp_path):
    opened = HarnessSession(tmp_path, files=[{"path": "in/x.txt", "content": "hi", "encoding": "utf-8"}])
    try:
        header, body, _, _ = opened.cell("open('in/x.txt').read()")
        assert body == b'"hi"'
        assert "files" not in header
    finally:
        opened.process.kill()
        opened.process.wait()
