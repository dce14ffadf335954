"""matplotlib figures, captured as PNGs when the script shows them and when main() returns."""

import importlib.util
import io
import struct
import sys

from .tracebacks import describe_exception


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
            # A session's earlier cell may have left its own hook waiting: this cell's replaces it.
            sys.meta_path[:] = [hook for hook in sys.meta_path if not isinstance(hook, AfterImport)]
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
