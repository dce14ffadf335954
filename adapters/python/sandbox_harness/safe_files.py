"""File access at the descriptor level that never follows a symlink and never waits on a fifo:
the script may have replaced anything in its work dir with either."""

import os
import stat

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a fifo that took a file's place cannot make the harness wait on open.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


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


def write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
