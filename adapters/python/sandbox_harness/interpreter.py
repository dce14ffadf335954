"""What a harness process does once, before any script: its environment and its preloaded modules."""

import os
import sys

from .report import flush_output

# The font list matplotlib would otherwise build on its first import in every sandbox (half a
# second, and a fontconfig complaint on stderr in a jail without /etc): the set-up builds it
# once beside the packages, and a sandbox that imports matplotlib's font manager gets a copy in
# its cache dir first.
BUILT_CACHE_DIR = os.path.join(sys.prefix, "lib", "matplotlib-cache")


def prepare_interpreter():
    """What a harness process does before it imports anything for a script."""
    # Figures are drawn to PNG without a display.
    os.environ["MPLBACKEND"] = "agg"
    seed_matplotlib_cache()


def seed_matplotlib_cache():
    """The built font list goes into this sandbox's fresh cache dir just before matplotlib's font
    manager is first imported, the only reader of it: a run that draws nothing copies nothing."""
    if "matplotlib.font_manager" in sys.modules:
        return  # a fork of an interpreter that holds the font list already: nothing reads the file
    # A fork of a harness that set the hook already: one hook, which copies into the cache dir of
    # the process that imports.
    sys.meta_path[:] = [hook for hook in sys.meta_path if not isinstance(hook, BeforeImport)]
    sys.meta_path.insert(0, BeforeImport("matplotlib.font_manager", copy_built_cache))


def copy_built_cache():
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


class BeforeImport:
    """A one-shot import hook: calls `first()` when the module `name` is first looked for, and
    leaves the finding to the import system."""

    def __init__(self, name, first):
        self.name = name
        self.first = first

    def find_spec(self, fullname, path, target=None):
        if fullname == self.name and self in sys.meta_path:
            sys.meta_path.remove(self)
            self.first()
        return None


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
