"""A cell's value as the report's result: strict JSON where it can be (as main()'s value), else
its repr(), cut at MAX_RESULT_REPR_CHARS."""

from .failures import Failure
from .protocol import MAX_RESULT_REPR_CHARS
from .strict_json import serialize_result

JSON = "json"
REPR = "repr"


def serialize_cell_value(value, max_bytes):
    """The result's bytes and its kind: JSON, or REPR (a JSON string) for a value that is not
    JSON or whose JSON is over max_bytes."""
    try:
        return serialize_result(value, max_bytes), JSON
    except Failure:
        pass
    return serialize_result(capped_repr(value), max_bytes), REPR


def capped_repr(value):
    text = repr(value)
    if len(text) > MAX_RESULT_REPR_CHARS:
        text = f"{text[:MAX_RESULT_REPR_CHARS]}... ({len(text) - MAX_RESULT_REPR_CHARS} more characters)"
    # A __repr__ may return a lone surrogate, which has no UTF-8 form: it is shown as its escape.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
