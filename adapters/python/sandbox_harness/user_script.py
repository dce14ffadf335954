"""The script itself: compiled, its top level run as the module `script`, its main() found and called."""

import inspect
import linecache
import sys
import traceback
import types

from .args import check_args, check_no_args_needed, parameters_of
from .failures import Failure
from .tracebacks import SCRIPT_FILENAME

SCRIPT_MODULE_NAME = "script"


def compile_script(source):
    # Tracebacks and inspect read source lines through linecache; "script.py" is not on disk.
    linecache.cache[SCRIPT_FILENAME] = (len(source), None, source.splitlines(True), SCRIPT_FILENAME)
    try:
        return compile(source, SCRIPT_FILENAME, "exec", dont_inherit=True)
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


def run_top_level(code):
    module = types.ModuleType(SCRIPT_MODULE_NAME)
    module.__file__ = SCRIPT_FILENAME
    sys.modules[SCRIPT_MODULE_NAME] = module
    exec(code, module.__dict__)
    return module


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
