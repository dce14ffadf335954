"""Runs one untrusted script and reports main()'s result on a channel of its own.

Protocol (shared by every sandbox backend):
  stdin      one JSON request: {"script": str, "limits": {...}, "memoryMb": int, "maxResultBytes": int}
  fd 1, 2    the script's own output, untouched (the server captures it at the fd level)
  result fd  one report: a JSON header line, then for success the raw result JSON text
           (with --preload, first a {"status":"ready"} line once the imports are done)

With --preload the harness imports numpy and pandas before it reads stdin, so a
pre-started sandbox only has to compile and run the script when it is handed one.
The backends run this file's source as `python -c <source> --result-fd 3 [--preload]`,
so a sandbox needs no access to the server's files.
"""

import sys

# The harness's own imports come before the script runs; `script.py` frames are the user's.
# asyncio, a third of a bare interpreter's start-up, is imported only for an async main().
import atexit
import errno
import inspect
import json
import linecache
import math
import os
import resource
import traceback
import types

SCRIPT_FILENAME = "script.py"
SCRIPT_MODULE_NAME = "script"
PRELOADED_MODULES = ("numpy", "pandas")
# A RecursionError under a raised recursion limit carries up to a million frames: formatting
# them all takes longer than any time limit, and the innermost ones tell the story.
TRACEBACK_FRAMES = 100
# A pre-started harness announces on its result channel that it is ready for a script.
READY_LINE = b'{"status":"ready"}\n'

# Signals a run may have queued at once. A jail's user namespace belongs to root, so its queued
# signals also count against host root's RLIMIT_SIGPENDING: each run gets a small share.
PENDING_SIGNALS = 64

# Exit status of a harness whose result channel the script closed (harness-protocol.ts).
RESULT_CHANNEL_LOST_EXIT = 86
# Freed on MemoryError so the harness has room to write its report.
_memory_reserve = bytearray(512 * 1024)


class Failure(Exception):
    def __init__(self, code, message, traceback_text=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.traceback_text = traceback_text


class NotJson(Exception):
    pass


def parse_args(argv):
    result_fd, preload = None, False
    args = iter(argv)
    for arg in args:
        if arg == "--result-fd":
            result_fd = int(next(args))
        elif arg == "--preload":
            preload = True
    if result_fd is None:
        raise SystemExit("harness: --result-fd is required")
    return result_fd, preload


def preload_modules():
    for name in PRELOADED_MODULES:
        try:
            __import__(name)
        except Exception:  # a missing package only costs the script its own import later
            pass


def read_request():
    data = b""
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        data += chunk
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return json.loads(data.decode("utf-8"))


RLIMITS = {
    "addressSpaceBytes": resource.RLIMIT_AS,
    "cpuSeconds": resource.RLIMIT_CPU,
    "fileSizeBytes": resource.RLIMIT_FSIZE,
    "openFiles": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}


def apply_limits(limits):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_SIGPENDING, (PENDING_SIGNALS, PENDING_SIGNALS))
    for key, which in RLIMITS.items():
        value = limits.get(key)
        if value is None:
            continue
        soft, hard = resource.getrlimit(which)
        if which == resource.RLIMIT_CPU:
            # The soft limit sends SIGXCPU (reported as a CPU timeout), the hard one SIGKILL,
            # so the soft one must stay below any hard limit the sandbox already set.
            if hard == resource.RLIM_INFINITY:
                resource.setrlimit(which, (value, value + 1))
            else:
                resource.setrlimit(which, (max(1, min(value, hard - 1)), hard))
            continue
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def user_traceback(exc):
    """The traceback from the first frame of the script on: the harness's frames are noise."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != SCRIPT_FILENAME:
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb, limit=-TRACEBACK_FRAMES)
    return "".join(lines)


def describe_exception(exc):
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def resource_failure(exc, limits):
    """An uncaught error that means one of the run's limits was hit (file size, work dir space,
    open files, processes or threads) as RESOURCE_LIMIT_EXCEEDED; None for any other error."""
    errno_of = exc.errno if isinstance(exc, OSError) else None
    if errno_of == errno.EFBIG:
        what, limit = "File size limit exceeded", limits.get("fileSizeBytes")
        unit = "bytes"
    elif errno_of in (errno.EMFILE, errno.ENFILE):
        what, limit = "Open-file limit exceeded", limits.get("openFiles")
        unit = "files"
    elif errno_of in (errno.ENOSPC, errno.EDQUOT):
        what, limit = "Disk space limit of the work dir exceeded", None
        unit = ""
    elif errno_of == errno.EAGAIN or (isinstance(exc, RuntimeError) and str(exc) == "can't start new thread"):
        what, limit = "Process limit exceeded: the script started too many processes or threads", limits.get("processes")
        unit = "processes"
    else:
        return None
    where = f" (limit {limit} {unit})" if limit else ""
    return Failure("RESOURCE_LIMIT_EXCEEDED", f"{what}{where}: {describe_exception(exc)}", user_traceback(exc))


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


def find_main(module):
    main = module.__dict__.get("main")
    if main is None:
        raise Failure("MAIN_NOT_FOUND", "No callable main() found in script")
    if inspect.isclass(main) or not callable(main):
        kind = "a class" if inspect.isclass(main) else f"a {type(main).__name__}"
        raise Failure("MAIN_NOT_FOUND", f"No callable main() found in script: main is {kind}, not a function")
    try:
        signature = inspect.signature(main)
    except (TypeError, ValueError):
        return main
    required = [
        p.name
        for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if required:
        names = ", ".join(required)
        raise Failure("MAIN_NOT_FOUND", f"main() is called with no arguments, but it requires: {names}")
    return main


def call_main(main):
    value = main()
    if inspect.isawaitable(value):
        import asyncio

        async def await_it():
            return await value

        value = asyncio.run(await_it())
    return value


# --- strict JSON -------------------------------------------------------------------------

HINTS = {
    "numpy.ndarray": "return arr.tolist()",
    "pandas.DataFrame": "return df.to_dict()",
    "pandas.Series": "return series.tolist() or series.to_dict()",
    "pandas.Timestamp": "return ts.isoformat()",
    "set": "return a list, e.g. sorted(value)",
    "frozenset": "return a list, e.g. sorted(value)",
    "bytes": "return value.decode() or a base64 string",
    "bytearray": "return value.decode() or a base64 string",
    "datetime.datetime": "return value.isoformat()",
    "datetime.date": "return value.isoformat()",
    "datetime.time": "return value.isoformat()",
    "decimal.Decimal": "return str(value) or float(value)",
    "complex": "return [value.real, value.imag]",
}


def public_type_name(value):
    cls = type(value)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    top = module.split(".")[0]
    if getattr(sys.modules.get(top), cls.__qualname__, None) is cls:
        return f"{top}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"


def not_json(path, value):
    name = public_type_name(value)
    hint = HINTS.get(name, "convert it to a dict, list, str, int, float, bool or None")
    return NotJson(f"{path} is {name}, which is not JSON; {hint}")


def numpy_scalar_type():
    numpy = sys.modules.get("numpy")
    return getattr(numpy, "generic", None)


def check_float(path, value):
    if math.isnan(value) or math.isinf(value):
        spelled = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        raise NotJson(f"{path} is {spelled}, which is not valid JSON; return None or a string instead")
    return value


def json_key(path, key, numpy_generic):
    if numpy_generic is not None and isinstance(key, numpy_generic):
        key = key.item()
    if isinstance(key, str):
        return str(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return float.__repr__(check_float(f"a key of {path}", key))
    raise NotJson(f"a key of {path} is {public_type_name(key)}; JSON object keys must be str, int, float, bool or None")


def key_repr(key):
    return json.dumps(key) if isinstance(key, str) else repr(key)


def to_json_value(value, path, numpy_generic, active):
    """A copy of `value` made only of JSON types, or NotJson naming the first offending path."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return check_float(path, float(value))
    if numpy_generic is not None and isinstance(value, numpy_generic):
        plain = value.item()
        if isinstance(plain, (bool, int, float, str)) or plain is None:
            return to_json_value(plain, path, None, active)
        raise not_json(path, value)
    if isinstance(value, (dict, list, tuple)):
        if id(value) in active:
            raise NotJson(f"{path} contains itself (a circular reference)")
        active.add(id(value))
        try:
            if isinstance(value, dict):
                return {
                    json_key(path, k, numpy_generic): to_json_value(v, f"{path}[{key_repr(k)}]", numpy_generic, active)
                    for k, v in value.items()
                }
            return [to_json_value(v, f"{path}[{i}]", numpy_generic, active) for i, v in enumerate(value)]
        finally:
            active.discard(id(value))
    raise not_json(path, value)


def is_int_too_long(exc):
    """An int with more digits than Python will print (sys.set_int_max_str_digits)."""
    return "integer string conversion" in str(exc)


def serialize_result(value, max_bytes):
    try:
        # Runs the value's own code (a str subclass's __str__, ...): what that raises is the script's.
        plain = to_json_value(value, "result", numpy_scalar_type(), set())
        text = json.dumps(plain, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except NotJson as exc:
        raise Failure("RESULT_NOT_JSON", f"main() returned a value that is not JSON: {exc}")
    except RecursionError:
        raise Failure("RESULT_NOT_JSON", "main() returned a value nested too deeply to serialize as JSON")
    except ValueError as exc:
        if not is_int_too_long(exc):
            raise
        raise Failure("RESULT_NOT_JSON", f"main() returned a value that is not JSON: {exc}")
    data = text.encode("ascii")
    if len(data) > max_bytes:
        raise Failure(
            "RESULT_TOO_LARGE",
            f"The result is {len(data)} bytes of JSON, over the limit of {max_bytes} bytes",
        )
    return data


# --- reporting ---------------------------------------------------------------------------


def write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def report(result_fd, header, body=b""):
    flush_output()
    try:
        write_all(result_fd, json.dumps(header).encode("utf-8") + b"\n" + body)
        os.close(result_fd)
    except OSError:
        # The script closed the channel (or replaced it): say so by the exit status alone.
        os._exit(RESULT_CHANNEL_LOST_EXIT)


# What the loader and the kernel say when the address-space limit leaves no room to map a
# shared library (numpy's, say) or to allocate: the import fails with an ImportError or OSError.
OUT_OF_MEMORY_TEXTS = ("failed to map segment from shared object", "cannot allocate memory")


def ran_out_of_memory(exc):
    """The exception, or one it was raised from, says memory ran out (not only MemoryError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
            return True
        if isinstance(exc, ImportError) and any(text in str(exc).lower() for text in OUT_OF_MEMORY_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def memory_failure(memory_mb):
    global _memory_reserve
    _memory_reserve = None
    where = f" ({memory_mb} MB)" if memory_mb else ""
    return Failure("MEMORY_LIMIT_EXCEEDED", f"Memory limit exceeded{where}")


def run(request):
    limits = request.get("limits", {})
    memory_mb = request.get("memoryMb")
    try:
        code = compile_script(request["script"])
        apply_limits(limits)
        try:
            module = run_top_level(code)
            main = find_main(module)
            value = call_main(main)
        except Failure:
            raise
        except SystemExit as exc:
            raise Failure("SCRIPT_EXITED", f"The script exited (sys.exit({exc.code!r})) before main() returned")
        except MemoryError:
            raise memory_failure(memory_mb)
        except BaseException as exc:
            if ran_out_of_memory(exc):
                raise memory_failure(memory_mb)
            raise resource_failure(exc, limits) or Failure("RUNTIME_ERROR", describe_exception(exc), user_traceback(exc))
        try:
            return {"status": "ok"}, serialize_result(value, request["maxResultBytes"])
        except Failure:
            raise
        except MemoryError:
            raise memory_failure(memory_mb)
        except BaseException as exc:  # the result's own code (a __str__, __int__, ...) raised while it was read
            raise Failure("RUNTIME_ERROR", describe_exception(exc), user_traceback(exc))
    except Failure as failure:
        header = {"status": "error", "code": failure.code, "message": failure.message}
        if failure.traceback_text:
            header["traceback"] = failure.traceback_text
        return header, b""


def main():
    result_fd, preload = parse_args(sys.argv[1:])
    os.set_inheritable(result_fd, False)
    if preload:
        preload_modules()
        write_all(result_fd, READY_LINE)
    serve(result_fd)


def serve(result_fd):
    """One run: the request from stdin, the script, the report on result_fd; then the process
    ends. Every backend's sandbox runs this, the fork server's children (zygote.py) included."""
    harness_pid = os.getpid()
    request = read_request()
    header, body = run(request)
    if os.getpid() != harness_pid:
        # A process the script forked came back out of main() (or failed in it): only the
        # harness itself reports, so a child can neither garble nor pre-empt the result.
        flush_output()
        os._exit(0)
    report(result_fd, header, body)
    # Exit handlers run (their prints are output like any other), but a lingering
    # non-daemon thread must not keep the sandbox alive after main() has returned.
    try:
        atexit._run_exitfuncs()
    finally:
        flush_output()
        os._exit(0)


if __name__ == "__main__":
    main()
