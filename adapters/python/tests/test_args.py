import pytest

from sandbox_harness.args import check_args, check_args_before_running, written_parameters
from sandbox_harness.failures import Failure
from sandbox_harness.user_script import compile_script, find_main, run_top_level


def failure(function, *args):
    with pytest.raises(Failure) as raised:
        function(*args)
    return raised.value


def names(parameters):
    return [(p.name, p.kind.name, p.has_default) for p in parameters]


def test_the_parameters_a_plain_def_main_writes():
    source = "def main(a, /, b, c=1, *rest, d, e=2, **more):\n    pass\n"
    assert names(written_parameters(source)) == [
        ("a", "POSITIONAL_ONLY", False),
        ("b", "POSITIONAL_OR_KEYWORD", False),
        ("c", "POSITIONAL_OR_KEYWORD", True),
        ("d", "KEYWORD_ONLY", False),
        ("e", "KEYWORD_ONLY", True),
        ("more", "VAR_KEYWORD", True),
    ]


@pytest.mark.parametrize(
    "source",
    [
        "@decorate\ndef main(a):\n    pass\n",
        "def main(a):\n    pass\nmain = other\n",
        "from somewhere import *\ndef main(a):\n    pass\n",
        "def main(a):\n    pass\nfor main in []:\n    pass\n",
        "if x:\n    def main(a):\n        pass\n",
    ],
)
def test_only_running_the_script_can_tell_main_when_the_name_is_bound_otherwise(source):
    assert written_parameters(source) is None


@pytest.mark.parametrize(
    ("source", "args", "message"),
    [
        ("def main(a):\n    pass\n", {"b": 1}, 'main() has no parameter "b" (its parameters: a)'),
        ("def main(a, /):\n    pass\n", {"a": 1}, 'main()\'s parameter "a" is positional-only, so args cannot give it'),
        ("def main(a, b=2):\n    pass\n", {"b": 1}, 'main() requires the argument "a", which args does not give'),
        ("def main():\n    pass\n", {"x": 1}, 'main() has no parameter "x" (its parameters: none)'),
    ],
)
def test_args_that_do_not_fit_fail_before_the_script_runs(source, args, message):
    found = failure(check_args_before_running, source, args)
    assert (found.code, found.message) == ("INVALID_ARGS", message)


def test_args_fit_a_main_that_takes_any_keyword():
    check_args(written_parameters("def main(**kw):\n    pass\n"), {"anything": 1})


def script_module(source):
    module, _ = run_top_level(compile_script(source))
    return module


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\n", "No callable main() found in script"),
        ("main = 3\n", "No callable main() found in script: main is a int, not a function"),
        ("class main:\n    pass\n", "No callable main() found in script: main is a class, not a function"),
        ("def main(a):\n    pass\n", "main() is called with no arguments, but it requires: a"),
    ],
)
def test_main_not_found_says_what_main_is(source, message):
    found = failure(find_main, script_module(source), None)
    assert (found.code, found.message) == ("MAIN_NOT_FOUND", message)


def test_a_main_the_source_does_not_show_is_checked_once_it_exists():
    module = script_module("def make():\n    def main(a, b=1):\n        return a\n    return main\nmain = make()\n")
    assert find_main(module, {"a": 1}).__name__ == "main"
    assert failure(find_main, module, {"c": 1}).message == 'main() has no parameter "c" (its parameters: a, b)'


def test_a_syntax_error_names_its_line_and_column():
    found = failure(compile_script, "def main(:\n    pass\n")
    assert found.code == "SYNTAX_ERROR"
    assert found.message.startswith("SyntaxError: ")
    assert found.message.endswith("(script.py, line 1, column 10)")
    assert failure(compile_script, "x = 1\0").message.startswith("SyntaxError: source code string cannot contain null bytes")
