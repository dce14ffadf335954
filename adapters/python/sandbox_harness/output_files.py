"""The files a run created or changed in its work dir, read without following any link."""

import hashlib
import os
import stat

from .protocol import MAX_PATH_BYTES
from .safe_files import DIR_FLAGS, open_directories, read_regular_file

# Deeper directories are not looked into (their files make the list truncated): the walk
# holds two descriptors per level, and the jail allows 256 open files.
MAX_DEPTH = 64


def display_path(relative):
    """The path as the client sees it: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(relative).decode("utf-8", "replace")


class OutputFiles:
    """The regular files the run created or changed in its work dir, by path, bounded by the
    budget. Symlinks, fifos, sockets and devices are never followed, opened or listed."""

    def __init__(self, inputs, budget, unchanged=None):
        self.inputs = inputs
        self.budget = budget
        # A session's cell: {path: identity()} of the files the work dir held before it; those
        # still the same are not this cell's.
        self.unchanged = unchanged or {}
        self.found = []  # (path, stat), trimmed to the max_files smallest paths as the walk goes
        self.truncated = False

    def collect(self):
        """The header entries, the contents and whether the list is truncated. In path order,
        each file has its content until one does not fit the budget; it and the rest only their size."""
        if walk_work_dir(self.consider):
            self.truncated = True
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

    def consider(self, dir_fd, path, name, info):
        if len(os.fsencode(path)) > MAX_PATH_BYTES:
            self.truncated = True
            return
        written = self.inputs.get(path)
        if written is None and path in self.unchanged and self.unchanged[path] == identity(info):
            return  # there before the cell, as it was
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


def identity(info):
    """What changes when a file is replaced or written."""
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def work_dir_files():
    """{path: identity()} of the work dir's regular files (as far as the walk goes)."""
    found = {}
    walk_work_dir(lambda dir_fd, path, name, info: found.__setitem__(path, identity(info)))
    return found


def walk_work_dir(visit):
    """Calls visit(dir_fd, path, name, stat) for each regular file under the cwd, never
    following a link; whether directories deeper than MAX_DEPTH were left out."""
    root_fd = os.open(".", DIR_FLAGS)
    try:
        return walk(root_fd, "", 0, visit)
    finally:
        os.close(root_fd)


def walk(dir_fd, prefix, depth, visit):
    too_deep = False
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
                visit(dir_fd, prefix + entry.name, entry.name, info)
    for name in subdirectories:
        if depth >= MAX_DEPTH:
            too_deep = True
            continue
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
        except OSError:
            continue  # replaced by a symlink or removed meanwhile
        try:
            too_deep = walk(fd, prefix + name + "/", depth + 1, visit) or too_deep
        finally:
            os.close(fd)
    return too_deep
