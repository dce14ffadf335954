import math
import sys

import numpy as np
import pandas as pd
import pytest

from sandbox_harness.failures import Failure
from sandbox_harness.protocol import MAX_RESULT_DEPTH
from sandbox_harness.strict_json import serialize_result


def json_of(value, max_bytes=1 << 20):
    return serialize_result(value, max_bytes).decode("ascii")


def failure_of(value, max_bytes=1 << 20):
    with pytest.raises(Failure) as raised:
        serialize_result(value, max_bytes)
    return raised.value


def test_every_json_type_compact_and_ascii():
    value = {"none": None, "t": True, "f": False, "int": -7, "float": 0.1, "str": "é🐍", "list": [1, [2]], "dict": {}}
    assert json_of(value) == '{"none":null,"t":true,"f":false,"int":-7,"float":0.1,"str":"\\u00e9\\ud83d\\udc0d","list":[1,[2]],"dict":{}}'


def test_keys_become_strings_as_pythons_json_does_and_tuples_lists():
    assert json_of({1: "a", 2.5: "b", None: "d"}) == '{"1":"a","2.5":"b","null":"d"}'
    assert json_of({True: "t", False: "f"}) == '{"true":"t","false":"f"}'
    assert json_of((1, (2, 3))) == "[1,[2,3]]"


def test_numpy_scalars_are_their_python_values():
    assert json_of([np.int64(3), np.float32(0.5), np.bool_(True), np.str_("s")]) == '[3,0.5,true,"s"]'
    assert json_of({np.int64(7): 1}) == '{"7":1}'


def test_an_integer_of_any_size_is_exact():
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        assert json_of(10**100_000) == "1" + "0" * 100_000
    finally:
        sys.set_int_max_str_digits(before)


def test_an_integer_python_will_not_print_is_not_json():
    failure = failure_of(10**5000)
    assert failure.code == "RESULT_NOT_JSON"
    assert "integer string conversion" in failure.message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (math.nan, "result is NaN, which is not valid JSON"),
        ({"x": [math.inf]}, "result[\"x\"][0] is Infinity"),
        (np.float64("-inf"), "result is -Infinity"),
        ({"df": pd.DataFrame({"a": [1]})}, "result[\"df\"] is pandas.DataFrame, which is not JSON; return df.to_dict()"),
        (np.arange(3), "result is numpy.ndarray, which is not JSON; return arr.tolist()"),
        ({1, 2}, "result is set, which is not JSON; return a list, e.g. sorted(value)"),
        (["\ud800"], "result[0] contains a lone surrogate"),
        ({(1, 2): 3}, "a key of result is tuple; JSON object keys must be"),
    ],
)
def test_what_is_not_json_is_named_by_its_path_with_the_fix(value, says):
    failure = failure_of(value)
    assert failure.code == "RESULT_NOT_JSON"
    assert says in failure.message


def test_a_value_that_contains_itself():
    loop = []
    loop.append(loop)
    assert "result[0] contains itself (a circular reference)" in failure_of(loop).message


@pytest.fixture
def recursion_limit():
    """Sets the recursion limit for one test, as a script may."""
    before = sys.getrecursionlimit()
    yield sys.setrecursionlimit
    sys.setrecursionlimit(before)


def test_nesting_up_to_the_shared_depth_limit_and_not_past_it(recursion_limit):
    # As a script that returns such a value must: the default limit stops at about 1000 frames.
    recursion_limit(10 * MAX_RESULT_DEPTH)
    def nested(depth):
        value = []
        for _ in range(depth - 1):
            value = [value]
        return value

    assert json_of(nested(MAX_RESULT_DEPTH)) == "[" * MAX_RESULT_DEPTH + "]" * MAX_RESULT_DEPTH
    assert f"nested deeper than {MAX_RESULT_DEPTH} levels" in failure_of(nested(MAX_RESULT_DEPTH + 1)).message


def test_the_cap_counts_the_json_bytes_exactly():
    assert json_of("x" * 8, max_bytes=10) == '"xxxxxxxx"'
    failure = failure_of("x" * 9, max_bytes=10)
    assert failure.code == "RESULT_TOO_LARGE"
    assert failure.message == "The result is 11 bytes of JSON, over the limit of 10 bytes"


def test_a_str_subclass_is_read_through_its_own_str():
    class Loud(str):
        def __str__(self):
            return "LOUD"

    assert json_of(Loud("quiet")) == '"LOUD"'


def test_a_value_too_deep_for_the_recursion_limit_is_not_json_rather_than_a_crash(recursion_limit):
    recursion_limit(200)
    value = []
    for _ in range(300):
        value = [value]
    failure = failure_of(value)
    assert failure.code == "RESULT_NOT_JSON"
    assert failure.message == "main() returned a value nested too deeply to serialize as JSON"
