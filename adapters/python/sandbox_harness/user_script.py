"""The script itself: compiled, its top level run as the module `script` (with the value of its
last expression, as a notebook cell has one), its main() found and called."""

import ast
import inspect
import linecache
import re
import sys
import traceback
import types

from .args import check_args, check_no_args_needed, parameters_of
from .failures import Failure
from .tracebacks import SCRIPT_FILENAME

SCRIPT_MODULE_NAME = "script"


class Script:
    """The script compiled as a cell: `statements` to exec, then `last_expression` to eval in the
    same namespace when the cell has a value (else None). `calls_main`: its top level calls main()
    itself, as a notebook cell that defines and then uses it does."""

    def __init__(self, statements, last_expression, calls_main):
        self.statements = statements
        self.last_expression = last_expression
        self.calls_main = calls_main


# Top-level statements whose own expressions run when the top level runs (not an `if`'s body,
# so that an `if __name__ == "__main__": main()` guard, which never runs here, does not count).
SIMPLE_STATEMENTS = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign)


def top_level_calls_main(tree):
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "main"
        for statement in tree.body
        if isinstance(statement, SIMPLE_STATEMENTS)
        for node in ast.walk(statement)
    )


def compile_script(source):
    # Tracebacks and inspect read source lines through linecache; "script.py" is not on disk.
    linecache.cache[SCRIPT_FILENAME] = (len(source), None, source.splitlines(True), SCRIPT_FILENAME)
    try:
        tree = compile(source, SCRIPT_FILENAME, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        last = tree.body[-1] if tree.body else None
        calls_main = top_level_calls_main(tree)
        if not isinstance(last, ast.Expr) or ends_with_semicolon(source, last):
            return Script(compile(tree, SCRIPT_FILENAME, "exec", dont_inherit=True), None, calls_main)
        tree.body.pop()
        # The nodes keep their positions, so tracebacks name the script's own lines.
        statements = compile(tree, SCRIPT_FILENAME, "exec", dont_inherit=True)
        return Script(statements, compile(ast.Expression(last.value), SCRIPT_FILENAME, "eval", dont_inherit=True), calls_main)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        detail = exc.msg or "invalid syntax"
        raise Failure(
            "SYNTAX_ERROR",
            f"SyntaxError: {detail} ({SCRIPT_FILENAME}, {where})",
            "".join(traceback.format_exception_only(type(exc), exc)),
        )
    except ValueError as exc:  # e.g. source code string cannot contain null bytes
        raise Failure("SYNTAX_ERROR", f"SyntaxError: {exc}")


# Where the parser's lines end (str.splitlines also splits at "\f", "\x1c" and others).
LINE_END = re.compile(r"\r\n|\r|\n")


def ends_with_semicolon(source, statement):
    """`value;`: as in a notebook, a last expression followed by ";" gives the cell no value."""
    line = LINE_END.split(source)[statement.end_lineno - 1]
    rest = line.encode("utf-8")[statement.end_col_offset :]  # the offset counts UTF-8 bytes
    return rest.lstrip().startswith(b";")


def run_top_level(script, module=None):
    """The module the top level ran in (a session's own, else a fresh `script`), and the value of
    the cell's last expression (None: it has none)."""
    if module is None:
        module = types.ModuleType(SCRIPT_MODULE_NAME)
        module.__file__ = SCRIPT_FILENAME
        sys.modules[SCRIPT_MODULE_NAME] = module
    exec(script.statements, module.__dict__)
    if script.last_expression is None:
        return module, None
    return module, eval(script.last_expression, module.__dict__)


def defines_main(module):
    """The top level bound `main` to something callable other than a class."""
    main = module.__dict__.get("main")
    return callable(main) and not inspect.isclass(main)


def find_main(module, args):
    """main, checked against args (None: called with no arguments, as before args existed)."""
    main = module.__dict__.get("main")
    if main is None:
        raise Failure("MAIN_NOT_FOUND", "No callable main() found in script")
    if inspect.isclass(main) or not callable(main):
        kind = "a class" if inspect.isclass(main) else f"a {type(main).__name__}"
        raise Failure("MAIN_NOT_FOUND", f"No callable main() found in script: main is {kind}, not a function")
    parameters = parameters_of(main)
    if parameters is None:
        return main
    if args is not None:
        check_args(parameters, args)
    else:
        check_no_args_needed(parameters)
    return main


def call_main(main, args):
    value = main() if args is None else main(**args)
    if inspect.isawaitable(value):
        # asyncio, a third of a bare interpreter's start-up, is imported only for an async main().
        import asyncio

        async def await_it():
            return await value

        value = asyncio.run(await_it())
    return value
