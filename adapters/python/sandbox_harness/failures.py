"""A run's failures as the report names them, and the limits an exception means were hit."""

import errno

from .tracebacks import describe_exception, user_traceback

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

    def header(self):
        header = {"status": "error", "code": self.code, "message": self.message}
        if self.traceback_text:
            header["traceback"] = self.traceback_text
        if self.limit:
            header["limit"] = self.limit
            header["exception"] = self.exception
        return header


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
