"""main()'s value as strict JSON text: what every client reads back exactly, or RESULT_NOT_JSON
naming the first part that is not JSON and how to return it instead."""

import json
import math
import sys

from .failures import Failure
from .protocol import MAX_RESULT_DEPTH


class NotJson(Exception):
    pass


HINTS = {
    "numpy.ndarray": "return arr.tolist()",
    "pandas.DataFrame": "return df.to_dict()",
    "pandas.Series": "return series.tolist() or series.to_dict()",
    "pandas.Timestamp": "return ts.isoformat()",
    "set": "return a list, e.g. sorted(value)",
    "frozenset": "return a list, e.g. sorted(value)",
    "bytes": "return value.decode() or a base64 string",
    "bytearray": "return value.decode() or a base64 string",
    "datetime.datetime": "return value.isoformat()",
    "datetime.date": "return value.isoformat()",
    "datetime.time": "return value.isoformat()",
    "decimal.Decimal": "return str(value) or float(value)",
    "complex": "return [value.real, value.imag]",
}


def public_type_name(value):
    cls = type(value)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    top = module.split(".")[0]
    if getattr(sys.modules.get(top), cls.__qualname__, None) is cls:
        return f"{top}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"


def not_json(path, value):
    name = public_type_name(value)
    hint = HINTS.get(name, "convert it to a dict, list, str, int, float, bool or None")
    return NotJson(f"{path} is {name}, which is not JSON; {hint}")


def numpy_scalar_type():
    numpy = sys.modules.get("numpy")
    return getattr(numpy, "generic", None)


def check_float(path, value):
    if math.isnan(value) or math.isinf(value):
        spelled = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        raise NotJson(f"{path} is {spelled}, which is not valid JSON; return None or a string instead")
    return value


def json_key(path, key, numpy_generic):
    if numpy_generic is not None and isinstance(key, numpy_generic):
        key = key.item()
    if isinstance(key, str):
        return check_str(f"a key of {path}", str(key))
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return float.__repr__(check_float(f"a key of {path}", key))
    raise NotJson(f"a key of {path} is {public_type_name(key)}; JSON object keys must be str, int, float, bool or None")


def key_repr(key):
    return json.dumps(key) if isinstance(key, str) else repr(key)


def check_str(path, value):
    """A lone surrogate (a Python str may hold one) has no UTF-8 form: strict parsers refuse its JSON escape."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise NotJson(f"{path} contains a lone surrogate, which is not valid Unicode text")
    return value


def to_json_value(value, path, numpy_generic, active):
    """A copy of `value` made only of JSON types, or NotJson naming the first offending path."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return check_str(path, str(value))
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return check_float(path, float(value))
    if numpy_generic is not None and isinstance(value, numpy_generic):
        plain = value.item()
        if isinstance(plain, (bool, int, float, str)) or plain is None:
            return to_json_value(plain, path, None, active)
        raise not_json(path, value)
    if isinstance(value, (dict, list, tuple)):
        if id(value) in active:
            raise NotJson(f"{path} contains itself (a circular reference)")
        if len(active) >= MAX_RESULT_DEPTH:
            raise NotJson(f"{path} is nested deeper than {MAX_RESULT_DEPTH} levels")
        active.add(id(value))
        try:
            if isinstance(value, dict):
                return {
                    json_key(path, k, numpy_generic): to_json_value(v, f"{path}[{key_repr(k)}]", numpy_generic, active)
                    for k, v in value.items()
                }
            return [to_json_value(v, f"{path}[{i}]", numpy_generic, active) for i, v in enumerate(value)]
        finally:
            active.discard(id(value))
    raise not_json(path, value)


def is_int_too_long(exc):
    """An int with more digits than Python will print (sys.set_int_max_str_digits)."""
    return "integer string conversion" in str(exc)


def serialize_result(value, max_bytes):
    try:
        # Runs the value's own code (a str subclass's __str__, ...): what that raises is the script's.
        plain = to_json_value(value, "result", numpy_scalar_type(), set())
        text = json.dumps(plain, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except NotJson as exc:
        raise Failure("RESULT_NOT_JSON", f"main() returned a value that is not JSON: {exc}")
    except RecursionError:
        raise Failure("RESULT_NOT_JSON", "main() returned a value nested too deeply to serialize as JSON")
    except ValueError as exc:
        if not is_int_too_long(exc):
            raise
        raise Failure("RESULT_NOT_JSON", f"main() returned a value that is not JSON: {exc}")
    data = text.encode("ascii")
    if len(data) > max_bytes:
        raise Failure(
            "RESULT_TOO_LARGE",
            f"The result is {len(data)} bytes of JSON, over the limit of {max_bytes} bytes",
        )
    return data
