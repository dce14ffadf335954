"""What a failure shows of the script: its own frames, never the harness's."""

import traceback

from .protocol import SCRIPT_FILENAME

# A RecursionError under a raised recursion limit carries up to a million frames: formatting
# them all takes longer than any time limit, and the innermost ones tell the story.
TRACEBACK_FRAMES = 100


def is_harness_frame(frame):
    return frame.f_globals.get("__name__", "").startswith(__package__ + ".")


def user_traceback(exc):
    """The traceback from the first frame of the script on, without the harness's own frames
    (before the script's, or its plt.show() hook between them): they are noise."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != SCRIPT_FILENAME:
        tb = tb.tb_next
    link = tb
    while link is not None:
        following = link.tb_next
        while following is not None and is_harness_frame(following.tb_frame):
            following = following.tb_next
        if following is not link.tb_next:
            link.tb_next = following  # (each assignment walks the rest: only where a frame goes)
        link = following
    lines = traceback.format_exception(type(exc), exc, tb, limit=-TRACEBACK_FRAMES)
    return "".join(lines)


def describe_exception(exc):
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()
