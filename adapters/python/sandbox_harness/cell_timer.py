"""A session's cell time limit: at it, the cell is interrupted as Ctrl+C interrupts a notebook's."""

import signal


class CellTimer:
    """Raises KeyboardInterrupt in the cell at `timeout_ms` (SIGALRM); `fired` tells that
    interruption from one the cell raised itself. A cell that catches it, or C code that does
    not return to Python, runs on: the server then ends the session after a grace."""

    def __init__(self, timeout_ms):
        self.seconds = timeout_ms / 1000
        self.fired = False
        self.saved = None

    def __enter__(self):
        self.saved = signal.signal(signal.SIGALRM, self.interrupt)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc_info):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.saved)
        return False

    def interrupt(self, signum, frame):
        self.fired = True
        raise KeyboardInterrupt
