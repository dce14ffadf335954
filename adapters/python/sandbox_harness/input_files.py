"""The request's files, written into the fresh work dir before the script runs."""

import base64
import binascii
import errno
import hashlib
import json
import os

from .failures import Failure
from .safe_files import DIR_FLAGS, open_directories, write_all
from .tracebacks import describe_exception


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


def is_safe_relative_path(path):
    names = path.split("/")
    return not path.startswith("/") and not any(name in ("", ".", "..") or "\0" in name for name in names)


def write_input_files(files, replace=False):
    """Writes the request's files into the work dir (the cwd: fresh for a run; a session's, for a
    cell, where `replace` lets a file take the place of one of the same path) and returns
    {path: (size, sha256)} of each, to tell unchanged inputs from outputs."""
    written = {}
    root_fd = os.open(".", DIR_FLAGS)
    try:
        for index, spec in enumerate(files):
            path = spec["path"]
            if not is_safe_relative_path(path):
                raise Failure("INVALID_REQUEST", f"files[{index}].path {json.dumps(path)} is not a safe relative path")
            names = path.split("/")
            data = decoded_content(spec, index)
            try:
                dir_fd = open_directories(root_fd, names[:-1], create=True)
                try:
                    fd = os.open(names[-1], os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL) | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
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
