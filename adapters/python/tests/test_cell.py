"""A script run as a notebook cell: its result is the value of its last expression statement."""

import json
import re

import pytest
from conftest import in_child, request

from sandbox_harness.protocol import MAX_RESULT_REPR_CHARS
from sandbox_harness.run import run


def run_in_child(req):
    kind, value = in_child(run, req)
    assert kind == "returned", value
    return value


def cell(script, entry="main-or-cell", **fields):
    return run_in_child(request(script, entry=entry, **fields))


def result_of(script, **fields):
    """The result's JSON value and its kind ("json" or "repr")."""
    header, body = cell(script, **fields)
    assert header["status"] == "ok", header
    return json.loads(body[0]), header.get("resultKind", "json")


@pytest.mark.parametrize("entry", ["main-or-cell", "cell"])
def test_the_last_expression_is_the_result(work_dir, entry):
    header, body = cell("x = 2\nx * 21\n", entry)
    assert header == {"status": "ok", "resultBytes": 2}
    assert body == [b"42"]


@pytest.mark.parametrize(
    ("script", "value"),
    [
        ("x = 1\nx  # the answer\n", 1),
        ("a = 1; a\n", 1),
        ("(1,\n 2)\n", [1, 2]),
        ('import numpy as np\nnp.float64(1.5) * 2\n', 3.0),
        ('{"total": sum(range(4)), "ok": True}', {"total": 6, "ok": True}),
        ('"only a string"', "only a string"),
    ],
)
def test_a_json_value_is_strict_json_as_mains_would_be(work_dir, script, value):
    assert result_of(script) == (value, "json")


@pytest.mark.parametrize(
    "script",
    [
        "x = 2 * 21\n",
        "for i in range(3):\n    i\n",
        "def f():\n    return 1\n",
        "import math\n",
        "x = 42\nx;\n",
        "x = 42\nx ;  # a notebook's way to show nothing\n",
        "",
        "# only a comment\n",
    ],
)
def test_a_cell_whose_last_statement_is_not_an_expression_has_no_value(work_dir, script):
    assert result_of(script) == (None, "json")


def test_an_expression_whose_value_is_none_is_null(work_dir):
    assert result_of('print("hi")\n') == (None, "json")


def test_a_value_that_is_not_json_comes_back_as_its_repr(work_dir):
    script = "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': [3.5, 4.5]})\ndf\n"
    value, kind = result_of(script)
    assert kind == "repr"
    assert value == "   a    b\n0  1  3.5\n1  2  4.5"
    assert result_of("{1, 2}") == ("{1, 2}", "repr")
    assert result_of("float('nan')") == ("nan", "repr")


def test_a_long_repr_is_cut_and_says_how_much_is_left_out(work_dir):
    script = "class Long:\n    def __repr__(self):\n        return 'y' * 10005\nLong()\n"
    value, kind = result_of(script)
    assert kind == "repr"
    assert MAX_RESULT_REPR_CHARS == 10000
    assert value == "y" * MAX_RESULT_REPR_CHARS + "... (5 more characters)"


def test_json_over_the_result_cap_comes_back_as_its_cut_repr(work_dir):
    value, kind = result_of("list(range(5000))", maxResultBytes=20000)
    assert kind == "repr"
    assert value.startswith("[0, 1, 2, ")
    assert re.search(r"\.\.\. \(\d+ more characters\)$", value)


def test_a_lone_surrogate_in_a_repr_is_shown_as_its_escape(work_dir):
    script = "class Odd:\n    def __repr__(self):\n        return 'x\\ud800'\nOdd()\n"
    assert result_of(script) == ("x\\ud800", "repr")


def test_a_repr_that_raises_is_the_scripts_error_at_its_line(work_dir):
    script = "class Bad:\n    def __repr__(self):\n        raise ValueError('no repr')\nBad()\n"
    header, _ = cell(script)
    assert (header["code"], header["message"]) == ("RUNTIME_ERROR", "ValueError: no repr")
    assert 'File "script.py", line 3, in __repr__' in header["traceback"]


def test_with_a_main_the_result_is_mains_and_main_or_cell_behaves_as_main(work_dir):
    script = "def main(n=1):\n    return n * 2\n'the last expression'\n"
    for entry in ("main", "main-or-cell"):
        assert cell(script, entry)[1] == [b"2"]
        assert cell(script, entry, args={"n": 21})[1] == [b"42"]
    header, _ = cell("def main():\n    return {1}\n", "main-or-cell")
    assert (header["code"], header["message"]) == ("RESULT_NOT_JSON", "main() returned a value that is not JSON: result is set, which is not JSON; return a list, e.g. sorted(value)")
    header, _ = cell("def main(a):\n    return a\n", "main-or-cell")
    assert header["code"] == "MAIN_NOT_FOUND"


@pytest.mark.parametrize(
    ("script", "value", "printed"),
    [
        ("def main(n):\n    print('ran')\n    return n * 2\nmain(21)\n", 42, "ran\n"),
        ("def main():\n    print('ran')\n    return 7\nprint(main())\n", None, "ran\n7\n"),
        ("def main():\n    print('ran')\n    return 7\nx = main()\nx + 1\n", 8, "ran\n"),
    ],
)
def test_a_cell_that_calls_main_itself_runs_it_once_and_its_value_is_the_result(work_dir, script, value, printed, capfd):
    assert result_of(script) == (value, "json")
    assert capfd.readouterr().out == printed


def test_a_main_guard_that_never_runs_here_still_leaves_main_to_be_called(work_dir):
    script = "def main():\n    return 'called by the harness'\nif __name__ == '__main__':\n    main()\n"
    assert result_of(script) == ("called by the harness", "json")


def test_a_main_that_is_not_a_function_is_a_cells_variable_in_main_or_cell(work_dir):
    assert result_of("main = 5\nmain\n") == (5, "json")
    assert cell("main = 5\nmain\n", "main")[0]["code"] == "MAIN_NOT_FOUND"


def test_main_mode_still_needs_main(work_dir):
    header, _ = cell("print('top')\n2 * 21\n", "main")
    assert (header["code"], header["message"]) == ("MAIN_NOT_FOUND", "No callable main() found in script")


def test_cell_mode_never_calls_main(work_dir):
    value, kind = result_of("def main():\n    raise AssertionError('called')\nmain\n", entry="cell")
    assert kind == "repr"
    assert re.fullmatch(r"<function main at 0x[0-9a-f]+>", value)


def test_args_without_a_main_to_take_them_are_invalid(work_dir):
    header, _ = cell("open('ran.txt', 'w').write('ran')\n1\n", "cell", args={"a": 1})
    assert (header["code"], header["message"]) == ("INVALID_ARGS", "args are main()'s keyword arguments, and in cell mode main() is never called")
    assert "files" not in header  # refused before the script ran
    header, _ = cell("1\n", "main-or-cell", args={"a": 1})
    assert (header["code"], header["message"]) == ("INVALID_ARGS", "args are main()'s keyword arguments, and the script defines no main()")


def test_an_unknown_entry_mode_is_refused(work_dir):
    header, _ = cell("1\n", "notebook")
    assert (header["code"], header["message"]) == ("INVALID_REQUEST", "Unknown entry mode 'notebook'; the harness knows main, main-or-cell, cell")


@pytest.mark.parametrize(
    ("script", "frames"),
    [
        ("x = 1\n\nx / 0\n", [("3", "<module>", "x / 0")]),
        ("x = 0\ny = 1 / x\ny\n", [("2", "<module>", "y = 1 / x")]),
        ("def f():\n    return 1 / 0\n\nf()\n", [("4", "<module>", "f()"), ("2", "f", "return 1 / 0")]),
    ],
)
def test_a_tracebacks_lines_are_the_scripts_own(work_dir, script, frames):
    header, _ = cell(script)
    assert (header["code"], header["message"]) == ("RUNTIME_ERROR", "ZeroDivisionError: division by zero")
    listed = re.findall(r'File "script\.py", line (\d+), in (\S+)\n    (.*)\n', header["traceback"])
    assert listed == frames
    assert "sandbox_harness" not in header["traceback"]


def test_a_syntax_error_names_its_line(work_dir):
    header, _ = cell("x = 1\ny = (1 +\n")
    assert header["code"] == "SYNTAX_ERROR"
    assert re.search(r"\(script\.py, line 2\b", header["message"])


def test_exiting_in_a_cell_is_named_without_main(work_dir):
    header, _ = cell("import sys\nsys.exit(3)\n")
    assert (header["code"], header["message"]) == ("SCRIPT_EXITED", "The script exited (sys.exit(3)) before the script's result was taken")


def test_a_cells_files_and_figures_are_collected_as_mains_are(work_dir):
    script = (
        "import matplotlib.pyplot as plt\n"
        "plt.figure(figsize=(2, 1), dpi=100)\n"
        "plt.plot([1, 2]);\n"
        "open('out.txt', 'w').write('hello')\n"
    )
    header, body = cell(script)
    assert header["resultBytes"] == 1
    assert header["files"] == [{"path": "out.txt", "size": 5, "contentBytes": 5}]
    assert header["figures"] == [{"width": 200, "height": 100, "contentBytes": len(body[2])}]
    assert body[:2] == [b"5", b"hello"]
    assert body[2].startswith(b"\x89PNG\r\n\x1a\n")


def test_a_semicolon_after_a_plot_leaves_the_figure_and_no_value(work_dir):
    header, body = cell("import matplotlib.pyplot as plt\nplt.plot([1, 2]);\n")
    assert body[0] == b"null"
    assert len(header["figures"]) == 1
