"""One run, start to end: the request in, the report's header and body parts out."""

import os
from contextlib import nullcontext

from .args import check_args_before_running
from .budget import Budget
from .cell_timer import CellTimer
from .cell_value import JSON, REPR, serialize_cell_value
from .entry import MAIN, check_entry, main_to_call
from .failures import Failure, memory_failure, ran_out_of_memory, resource_failure
from .figures import Figures
from .input_files import write_input_files
from .limits import apply_limits
from .output_files import OutputFiles
from .strict_json import serialize_result
from .tracebacks import describe_exception, user_traceback
from .user_script import call_main, compile_script, run_top_level


def run(request, session=None):
    """The report's header and the parts of its body, for report(). In a session (session.py),
    the script is a cell run in the session's module, and its files are those it changed."""
    started_pid = os.getpid()
    budget = Budget(request["artifactLimits"])
    figures = Figures(budget)
    inputs = {}
    header, body = run_script(request, figures, inputs, session)
    if os.getpid() != started_pid:
        return header, body  # a forked child came back out of main(): it does not report
    if header.get("code") != "MEMORY_LIMIT_EXCEEDED":
        try:
            figures.capture_open()
        except Exception:
            pass  # a figure that cannot be drawn after a failure does not hide the failure
    try:
        files, contents, files_truncated = OutputFiles(inputs, budget, session and session.files_before).collect()
    except Exception:  # out of memory or descriptors, say, after the script's own failure
        files, contents, files_truncated = [], [], True
    if files or files_truncated:
        header["files"] = files
        header["filesTruncated"] = files_truncated
    if figures.pngs or figures.truncated:
        header["figures"] = [{"width": w, "height": h, "contentBytes": len(png)} for png, w, h in figures.pngs]
        header["figuresTruncated"] = figures.truncated
    return header, body + contents + [png for png, _, _ in figures.pngs]


def run_script(request, figures, inputs, session):
    """Compiles and runs the script; `inputs` receives what write_input_files() wrote."""
    limits = request.get("limits", {})
    memory_mb = request.get("memoryMb")
    args = request.get("args")
    entry = request["entry"]
    try:
        script = compile_script(request["script"])
        check_entry(entry, args)
        if args is not None:
            check_args_before_running(request["script"], args)
        inputs.update(write_input_files(request.pop("files", None) or [], replace=session is not None))
        figures.watch()
        apply_limits(limits)
        timer = CellTimer(request["cellTimeoutMs"]) if "cellTimeoutMs" in request else nullcontext()
        try:
            with timer:
                module, cell_value = run_top_level(script, session and session.module)
                main = main_to_call(entry, script, module, args)
                value = cell_value if main is None else call_main(main, args)
        except Failure:
            raise
        except KeyboardInterrupt as exc:
            if not getattr(timer, "fired", False):
                raise Failure("RUNTIME_ERROR", describe_exception(exc), user_traceback(exc))
            message = f"The cell was interrupted at its time limit of {request['cellTimeoutMs']} ms (KeyboardInterrupt); the session keeps its state"
            raise Failure("TIMEOUT", message, user_traceback(exc))
        except SystemExit as exc:
            before = "main() returned" if entry == MAIN else "the script's result was taken"
            raise Failure("SCRIPT_EXITED", f"The script exited (sys.exit({exc.code!r})) before {before}")
        except MemoryError as exc:
            raise memory_failure(memory_mb, exc)
        except BaseException as exc:
            if ran_out_of_memory(exc):
                raise memory_failure(memory_mb, exc)
            raise resource_failure(exc, limits) or Failure("RUNTIME_ERROR", describe_exception(exc), user_traceback(exc))
        try:
            if main is None:
                result, kind = serialize_cell_value(value, request["maxResultBytes"])
            else:
                result, kind = serialize_result(value, request["maxResultBytes"]), JSON
        except Failure:
            raise
        except MemoryError as exc:
            raise memory_failure(memory_mb, exc)
        except BaseException as exc:  # the result's own code (a __str__, __repr__, ...) raised while it was read
            raise Failure("RUNTIME_ERROR", describe_exception(exc), user_traceback(exc))
        header = {"status": "ok", "resultBytes": len(result)}
        if kind == REPR:
            header["resultKind"] = REPR
        return header, [result]
    except Failure as failure:
        return failure.header(), []
