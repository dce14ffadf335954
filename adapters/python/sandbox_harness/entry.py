"""The request's entry mode: whether the run's result is main()'s, or, as a notebook cell's, the
value of the script's last expression."""

from .failures import Failure
from .user_script import defines_main, find_main

MAIN = "main"  # main() is called after the top level; a script without one is MAIN_NOT_FOUND
MAIN_OR_CELL = "main-or-cell"  # main() when the top level defines one and does not call it, else the cell's value
CELL = "cell"  # the cell's value; main() is never called
ENTRY_MODES = (MAIN, MAIN_OR_CELL, CELL)


def check_entry(entry, args):
    """Before anything runs: a mode the harness knows, and no args where main() is never called."""
    if entry not in ENTRY_MODES:
        raise Failure("INVALID_REQUEST", f"Unknown entry mode {entry!r}; the harness knows {', '.join(ENTRY_MODES)}")
    if entry == CELL and args is not None:
        raise Failure("INVALID_ARGS", "args are main()'s keyword arguments, and in cell mode main() is never called")


def main_to_call(entry, script, module, args):
    """main, checked against args, when the run's result is main()'s; None when it is the cell's
    value. A cell that calls main() itself (`main(21)`, `print(main())`) has had it run once."""
    if entry == CELL or (entry == MAIN_OR_CELL and (script.calls_main or not defines_main(module))):
        if args is not None:
            raise Failure("INVALID_ARGS", "args are main()'s keyword arguments, and the script defines no main()")
        return None
    return find_main(module, args)
