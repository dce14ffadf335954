"""Runs one untrusted script and reports main()'s result on a channel of its own.

Protocol (shared by every sandbox backend):
  stdin      one JSON request: {"script": str, "limits": {...}, "memoryMb": int,
             "maxResultBytes": int, "artifactLimits": {"maxFiles", "maxBytes", "maxFigures"},
             "args": {...} (optional), "files": [{"path", "content", "encoding"}] (optional)}
  fd 1, 2    the script's own output, untouched (the server captures it at the fd level)
  result fd  one report: a JSON header line, then a body of raw bytes whose parts the header
             measures: the result JSON text ("resultBytes", success only), then the content of
             each file that has "contentBytes", then each figure's PNG ("contentBytes")
           (with --preload, first a {"status":"ready"} line once the imports are done)

With --preload MODULES (comma-separated) the harness imports those modules before it reads
stdin, so a pre-started sandbox only has to compile and run the script when it is handed one.
The backends run this file's source as `python -c <source> --result-fd 3 [--preload MODULES]`,
so a sandbox needs no access to the server's files.

Everything one run does is `run(request)`, which returns the report's header and the parts of
its body for `report()`, and depends on nothing of how the process started: a caller that forks
per request calls prepare_interpreter() and preload_modules() once, then run() in each child.
The run's work dir is the current directory.
"""

import sys

# The harness's own imports come before the script runs; `script.py` frames are the user's.
# asyncio, a third of a bare interpreter's start-up, is imported only for an async main().
import ast
import atexit
import base64
import binascii
import errno
import hashlib
import importlib.util
import inspect
import io
import json
import linecache
import math
import os
import resource
import stat
import struct
import traceback
import types

SCRIPT_FILENAME = "script.py"
SCRIPT_MODULE_NAME = "script"
# A RecursionError under a raised recursion limit carries up to a million frames: formatting
# them all takes longer than any time limit, and the innermost ones tell the story.
TRACEBACK_FRAMES = 100
# Deeper results break the recursive JSON parsers of many clients (harness-protocol.ts checks it too).
MAX_RESULT_DEPTH = 1000
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
    def __init__(self, code, message, traceback_text=None, limit=None, exception=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.traceback_text = traceback_text
        # For a limit the sandbox can confirm ("memory", "processes"): the exception itself, to
        # report as a RUNTIME_ERROR when the sandbox saw no such limit hit.
        self.limit = limit
        self.exception = exception


class NotJson(Exception):
    pass


def parse_args(argv):
    """The result fd, and the modules to preload (None: not a pre-started harness)."""
    result_fd, preload = None, None
    args = iter(argv)
    for arg in args:
        if arg == "--result-fd":
            result_fd = int(next(args))
        elif arg == "--preload":
            preload = [name for name in next(args).split(",") if name]
    if result_fd is None:
        raise SystemExit("harness: --result-fd is required")
    return result_fd, preload


def preload_modules(names):
    """Imports the modules a pre-started sandbox offers ready; what they print is not the
    script's output, so it goes to /dev/null."""
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        for name in names:
            try:
                __import__(name)
            except Exception:  # a missing package only costs the script its own import later
                pass
    finally:
        flush_output()
        for fd, original in zip((1, 2), saved):
            os.dup2(original, fd)
            os.close(original)


# The font list matplotlib would otherwise build on its first import in every sandbox (half a
# second, and a fontconfig complaint on stderr in a jail without /etc): the set-up builds it
# once beside the packages, and each sandbox starts with a copy in its cache dir.
BUILT_CACHE_DIR = os.path.join(sys.prefix, "lib", "matplotlib-cache")


def prepare_interpreter():
    """What a harness process does before it imports anything for a script."""
    # Figures are drawn to PNG without a display.
    os.environ["MPLBACKEND"] = "agg"
    seed_matplotlib_cache()


def seed_matplotlib_cache():
    if "matplotlib.font_manager" in sys.modules:
        return  # a fork of an interpreter that holds the font list already: nothing reads the file
    target = os.environ.get("MPLCONFIGDIR")
    try:
        names = os.listdir(BUILT_CACHE_DIR) if target else []
        for name in names:
            destination = os.path.join(target, name)
            if not os.path.exists(destination):
                with open(os.path.join(BUILT_CACHE_DIR, name), "rb") as source, open(destination, "wb") as copy:
                    copy.write(source.read())
    except OSError:
        pass  # matplotlib builds its own, slower


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
    """The traceback from the first frame of the script on, without the harness's own frames
    (before the script's, or its plt.show() hook between them): they are noise."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != SCRIPT_FILENAME:
        tb = tb.tb_next
    link = tb
    while link is not None:
        following = link.tb_next
        while following is not None and following.tb_frame.f_globals is globals():
            following = following.tb_next
        if following is not link.tb_next:
            link.tb_next = following  # (each assignment walks the rest: only where a frame goes)
        link = following
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
        # Also what a non-blocking read with nothing to read raises: a sandbox with a pids
        # cgroup tells the two apart (harness-protocol.ts), others cannot.
        what, limit = "Process limit exceeded: the script started too many processes or threads", limits.get("processes")
        where = f" (limit {limit} processes)" if limit else ""
        return Failure(
            "RESOURCE_LIMIT_EXCEEDED",
            f"{what}{where}: {describe_exception(exc)}",
            user_traceback(exc),
            limit="processes",
            exception=describe_exception(exc),
        )
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


def find_main(module, args):
    """main, checked against args (None: called with no arguments, as before args existed)."""
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
    parameters = [
        Parameter(p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in signature.parameters.values()
    ]
    if args is not None:
        check_args(parameters, args)
        return main
    required = [p.name for p in parameters if not p.has_default and p.kind in NAMED_KINDS]
    if required:
        names = ", ".join(required)
        raise Failure("MAIN_NOT_FOUND", f"main() is called with no arguments, but it requires: {names}")
    return main


def call_main(main, args):
    value = main() if args is None else main(**args)
    if inspect.isawaitable(value):
        import asyncio

        async def await_it():
            return await value

        value = asyncio.run(await_it())
    return value


# --- args ----------------------------------------------------------------------------------

P = inspect.Parameter
NAMED_KINDS = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)


class Parameter:
    """One parameter of main(), whether read from the live function or from the source."""

    def __init__(self, name, kind, has_default):
        self.name = name
        self.kind = kind
        self.has_default = has_default


def check_args(parameters, args):
    """INVALID_ARGS naming the first argument that does not fit main(**args)."""
    by_name = {p.name: p for p in parameters if p.kind in NAMED_KINDS}
    takes_any_name = any(p.kind == P.VAR_KEYWORD for p in parameters)
    for name in args:
        parameter = by_name.get(name)
        if parameter is None and not takes_any_name:
            listed = ", ".join(n for n, p in by_name.items() if p.kind != P.POSITIONAL_ONLY) or "none"
            raise Failure("INVALID_ARGS", f'main() has no parameter "{name}" (its parameters: {listed})')
        if parameter is not None and parameter.kind == P.POSITIONAL_ONLY:
            raise Failure("INVALID_ARGS", f'main()\'s parameter "{name}" is positional-only, so args cannot give it')
    for parameter in by_name.values():
        if not parameter.has_default and (parameter.name not in args or parameter.kind == P.POSITIONAL_ONLY):
            raise Failure("INVALID_ARGS", f'main() requires the argument "{parameter.name}", which args does not give')


def written_parameters(source):
    """main()'s parameters as the source writes them, when the script binds the name `main`
    exactly once, with an undecorated top-level def; None when only running it can tell."""
    tree = ast.parse(source, SCRIPT_FILENAME)
    defs = [
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main"
    ]
    if len(defs) != 1 or defs[0].decorator_list or bindings_of_main(tree) != 1:
        return None
    spec = defs[0].args
    positional = spec.posonlyargs + spec.args
    first_default = len(positional) - len(spec.defaults)
    parameters = [
        Parameter(arg.arg, P.POSITIONAL_ONLY if i < len(spec.posonlyargs) else P.POSITIONAL_OR_KEYWORD, i >= first_default)
        for i, arg in enumerate(positional)
    ]
    parameters += [Parameter(arg.arg, P.KEYWORD_ONLY, default is not None) for arg, default in zip(spec.kwonlyargs, spec.kw_defaults)]
    if spec.kwarg is not None:
        parameters.append(Parameter(spec.kwarg.arg, P.VAR_KEYWORD, True))
    return parameters


def bindings_of_main(tree):
    """How many places in the source may bind the name `main` (a star import counts twice)."""
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            count += node.name == "main"
        elif isinstance(node, ast.Name):
            count += node.id == "main" and not isinstance(node.ctx, ast.Load)
        elif isinstance(node, ast.alias):
            count += 2 if node.name == "*" else (node.asname or node.name.split(".")[0]) == "main"
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            count += "main" in node.names
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
            count += node.name == "main"
        elif isinstance(node, ast.MatchMapping):
            count += node.rest == "main"
    return count


def check_args_before_running(source, args):
    """For a plain `def main`, arguments that do not fit fail before any of the script runs."""
    parameters = written_parameters(source)
    if parameters is not None:
        check_args(parameters, args)


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
        return check_str(f"a key of {path}", str(key))
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


def check_str(path, value):
    """A lone surrogate (a Python str may hold one) has no UTF-8 form: strict parsers refuse its JSON escape."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise NotJson(f"{path} contains a lone surrogate, which is not valid Unicode text")
    return value


def to_json_value(value, path, numpy_generic, active):
    """A copy of `value` made only of JSON types, or NotJson naming the first offending path."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return check_str(path, str(value))
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
        if len(active) >= MAX_RESULT_DEPTH:
            raise NotJson(f"{path} is nested deeper than {MAX_RESULT_DEPTH} levels")
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


# --- input files -----------------------------------------------------------------------

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a fifo that took a file's place cannot make the harness wait on open.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def decoded_content(spec, index):
    if spec.get("encoding", "utf-8") == "base64":
        try:
            return base64.b64decode(spec["content"], validate=True)
        except (binascii.Error, ValueError):
            raise Failure("INVALID_REQUEST", f"files[{index}].content is not valid base64")
    try:
        return spec["content"].encode("utf-8")
    except UnicodeEncodeError:
        raise Failure("INVALID_REQUEST", f"files[{index}].content is not well-formed Unicode; send binary content as base64")


def open_directories(root_fd, names, create):
    """A descriptor of the directory root/names[0]/names[1]/..., never through a symlink."""
    fd = os.dup(root_fd)
    try:
        for name in names:
            if create:
                try:
                    os.mkdir(name, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            parent, fd = fd, None
            try:
                fd = os.open(name, DIR_FLAGS, dir_fd=parent)
            finally:
                os.close(parent)
        return fd
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise


def write_input_files(files):
    """Writes the request's files into the work dir (the cwd, fresh: nothing of the script has
    run yet) and returns {path: (size, sha256)} of each, to tell unchanged inputs from outputs."""
    written = {}
    root_fd = os.open(".", DIR_FLAGS)
    try:
        for index, spec in enumerate(files):
            path = spec["path"]
            names = path.split("/")
            if path.startswith("/") or any(name in ("", ".", "..") or "\0" in name for name in names):
                raise Failure("INVALID_REQUEST", f"files[{index}].path {json.dumps(path)} is not a safe relative path")
            data = decoded_content(spec, index)
            try:
                dir_fd = open_directories(root_fd, names[:-1], create=True)
                try:
                    fd = os.open(names[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
                finally:
                    os.close(dir_fd)
                try:
                    write_all(fd, data)
                finally:
                    os.close(fd)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise Failure("RESOURCE_LIMIT_EXCEEDED", f"The input files do not fit the work dir: {describe_exception(exc)}")
                raise Failure("INVALID_REQUEST", f"files[{index}].path {json.dumps(path)} cannot be written: {exc.strerror}")
            written[path] = (len(data), hashlib.sha256(data).digest())
    finally:
        os.close(root_fd)
    return written


# --- figures -------------------------------------------------------------------------------


class Budget:
    """What the response may still carry: file contents and figures share one byte cap."""

    def __init__(self, limits):
        self.bytes_left = limits["maxBytes"]
        self.max_files = limits["maxFiles"]
        self.max_figures = limits["maxFigures"]

    def take(self, size):
        if size > self.bytes_left:
            return False
        self.bytes_left -= size
        return True


class Figures:
    """matplotlib figures as PNGs (Agg): each one shown with plt.show(), then each one still
    open when main() returns. show() renders every open figure and closes it, as a notebook does."""

    def __init__(self, budget):
        self.budget = budget
        self.pngs = []  # (png bytes, width, height)
        self.truncated = False

    def watch(self):
        """Makes plt.show() capture, whether pyplot is loaded already or the script imports it."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            self.hook_show(pyplot)
        else:
            sys.meta_path.insert(0, AfterImport("matplotlib.pyplot", self.hook_show))

    def hook_show(self, pyplot):
        def show(*args, **kwargs):
            self.capture(pyplot, on_error="raise")

        show.__doc__ = pyplot.show.__doc__
        pyplot.show = show

    def capture_open(self):
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            self.capture(pyplot, on_error="note")

    def capture(self, pyplot, on_error):
        for number in pyplot.get_fignums():
            figure = pyplot.figure(number)
            try:
                if self.truncated or len(self.pngs) >= self.budget.max_figures:
                    self.truncated = True  # this one and every later one is left out
                    continue
                buffer = io.BytesIO()
                try:
                    figure.savefig(buffer, format="png")
                except Exception as exc:
                    if on_error == "raise":
                        raise
                    print(f"Figure {number} could not be rendered: {describe_exception(exc)}", file=sys.stderr)
                    continue
                png = buffer.getvalue()
                if not self.budget.take(len(png)):
                    self.truncated = True
                    continue
                width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR chunk
                self.pngs.append((png, width, height))
            finally:
                pyplot.close(figure)


class AfterImport:
    """A one-shot import hook: calls `then(module)` once the module `name` has been executed."""

    def __init__(self, name, then):
        self.name = name
        self.then = then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader_exec = spec.loader.exec_module

        def exec_module(module):
            loader_exec(module)
            self.then(module)

        spec.loader.exec_module = exec_module
        return spec


# --- output files --------------------------------------------------------------------------

# Deeper directories are not looked into (their files make the list truncated): the walk
# holds two descriptors per level, and the jail allows 256 open files.
MAX_DEPTH = 64
# A path longer than this (UTF-8) is not listed, so that the report's header stays bounded.
MAX_PATH_BYTES = 4096


def display_path(relative):
    """The path as the client sees it: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(relative).decode("utf-8", "replace")


def read_regular_file(dir_fd, name, expected, limit):
    """At most limit + 1 bytes of the regular file `name` if it is still the file `expected`
    (an lstat result); None if it is not a regular file any more. Never follows a symlink."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (expected.st_dev, expected.st_ino):
            return None
        chunks, wanted = [], limit + 1
        while wanted > 0:
            chunk = os.read(fd, min(wanted, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class OutputFiles:
    """The regular files the run created or changed in its work dir, by path, bounded by the
    budget. Symlinks, fifos, sockets and devices are never followed, opened or listed."""

    def __init__(self, inputs, budget):
        self.inputs = inputs
        self.budget = budget
        self.found = []  # (path, stat), trimmed to the max_files smallest paths as the walk goes
        self.truncated = False

    def collect(self):
        """The header entries, the contents and whether the list is truncated. In path order,
        each file has its content until one does not fit the budget; it and the rest only their size."""
        root_fd = os.open(".", DIR_FLAGS)
        try:
            self.walk(root_fd, "", 0)
        finally:
            os.close(root_fd)
        self.trim()
        entries, contents, over_budget = [], [], False
        for path, info in self.found:
            entry = {"path": display_path(path), "size": info.st_size}
            if not over_budget and info.st_size <= self.budget.bytes_left:
                data = self.read(path, info, self.budget.bytes_left)
                if data is None:
                    continue  # replaced or removed since the walk saw it
                if self.budget.take(len(data)):  # not if the file grew past the budget meanwhile
                    entry["size"] = entry["contentBytes"] = len(data)
                    contents.append(data)
            if "contentBytes" not in entry:
                over_budget = self.truncated = True
            entries.append(entry)
        return entries, contents, self.truncated

    def walk(self, dir_fd, prefix, depth):
        subdirectories = []
        with os.scandir(dir_fd) as entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    subdirectories.append(entry.name)
                elif stat.S_ISREG(info.st_mode):
                    self.consider(dir_fd, prefix + entry.name, entry.name, info)
        for name in subdirectories:
            if depth >= MAX_DEPTH:
                self.truncated = True
                continue
            try:
                fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                continue  # replaced by a symlink or removed meanwhile
            try:
                self.walk(fd, prefix + name + "/", depth + 1)
            finally:
                os.close(fd)

    def consider(self, dir_fd, path, name, info):
        if len(os.fsencode(path)) > MAX_PATH_BYTES:
            self.truncated = True
            return
        written = self.inputs.get(path)
        if written is not None and info.st_size == written[0]:
            data = read_regular_file(dir_fd, name, info, written[0])
            if data is not None and hashlib.sha256(data).digest() == written[1]:
                return  # an input the run left as it was
        self.found.append((path, info))
        if len(self.found) >= 2 * self.budget.max_files + 64:
            self.trim()

    def trim(self):
        self.found.sort(key=lambda item: os.fsencode(item[0]))
        if len(self.found) > self.budget.max_files:
            del self.found[self.budget.max_files:]
            self.truncated = True

    def read(self, path, info, limit):
        """At most limit + 1 bytes of the file the walk saw at `path`; None if it is gone."""
        *directories, name = path.split("/")
        root_fd = os.open(".", DIR_FLAGS)
        try:
            dir_fd = open_directories(root_fd, directories, create=False)
        except OSError:
            return None
        finally:
            os.close(root_fd)
        try:
            return read_regular_file(dir_fd, name, info, limit)
        finally:
            os.close(dir_fd)


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


def memory_failure(memory_mb, exc):
    global _memory_reserve
    _memory_reserve = None
    where = f" ({memory_mb} MB)" if memory_mb else ""
    return Failure("MEMORY_LIMIT_EXCEEDED", f"Memory limit exceeded{where}", limit="memory", exception=describe_exception(exc))


def run(request):
    """One run, start to end: the report's header and the parts of its body."""
    started_pid = os.getpid()
    budget = Budget(request["artifactLimits"])
    figures = Figures(budget)
    inputs = {}
    header, body = run_script(request, figures, inputs)
    if os.getpid() != started_pid:
        return header, body  # a forked child came back out of main(): it does not report
    if header.get("code") != "MEMORY_LIMIT_EXCEEDED":
        try:
            figures.capture_open()
        except Exception:
            pass  # a figure that cannot be drawn after a failure does not hide the failure
    try:
        files, contents, files_truncated = OutputFiles(inputs, budget).collect()
    except Exception:  # out of memory or descriptors, say, after the script's own failure
        files, contents, files_truncated = [], [], True
    if files or files_truncated:
        header["files"] = files
        header["filesTruncated"] = files_truncated
    if figures.pngs or figures.truncated:
        header["figures"] = [{"width": w, "height": h, "contentBytes": len(png)} for png, w, h in figures.pngs]
        header["figuresTruncated"] = figures.truncated
    return header, body + contents + [png for png, _, _ in figures.pngs]


def run_script(request, figures, inputs):
    """Compiles and runs the script; `inputs` receives what write_input_files() wrote."""
    limits = request.get("limits", {})
    memory_mb = request.get("memoryMb")
    args = request.get("args")
    try:
        code = compile_script(request["script"])
        if args is not None:
            check_args_before_running(request["script"], args)
        inputs.update(write_input_files(request.pop("files", None) or []))
        figures.watch()
        apply_limits(limits)
        try:
            module = run_top_level(code)
            main = find_main(module, args)
            value = call_main(main, args)
        except Failure:
            raise
        except SystemExit as exc:
            raise Failure("SCRIPT_EXITED", f"The script exited (sys.exit({exc.code!r})) before main() returned")
        except MemoryError as exc:
            raise memory_failure(memory_mb, exc)
        except BaseException as exc:
            if ran_out_of_memory(exc):
                raise memory_failure(memory_mb, exc)
            raise resource_failure(exc, limits) or Failure("RUNTIME_ERROR", describe_exception(exc), user_traceback(exc))
        try:
            result = serialize_result(value, request["maxResultBytes"])
        except Failure:
            raise
        except MemoryError as exc:
            raise memory_failure(memory_mb, exc)
        except BaseException as exc:  # the result's own code (a __str__, __int__, ...) raised while it was read
            raise Failure("RUNTIME_ERROR", describe_exception(exc), user_traceback(exc))
        return {"status": "ok", "resultBytes": len(result)}, [result]
    except Failure as failure:
        header = {"status": "error", "code": failure.code, "message": failure.message}
        if failure.traceback_text:
            header["traceback"] = failure.traceback_text
        if failure.limit:
            header["limit"] = failure.limit
            header["exception"] = failure.exception
        return header, []


def main():
    result_fd, preload = parse_args(sys.argv[1:])
    os.set_inheritable(result_fd, False)
    prepare_interpreter()
    if preload is not None:
        preload_modules(preload)
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
