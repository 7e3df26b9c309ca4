from __future__ import annotations

import enum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines import ErrorType, Language, ScriptError, SecurityLimits, to_wire


def test_wire_form_normalises_tuples_and_buffers() -> None:
    value = {"a": (1, 2, bytearray(b"xy")), "b": [None, True, 1.5, "s", memoryview(b"z")]}
    assert to_wire(value, "context") == {"a": [1, 2, b"xy"], "b": [None, True, 1.5, "s", b"z"]}


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"unit": {"hp": {1, 2}}}, "context.unit.hp"),
        ({"unit": [1, object()]}, "context.unit[1]"),
        ({"weird key": {"x": 1j}}, "context['weird key'].x"),
        ({"n": 1 << 64}, "context.n"),
        ({"m": {1: "a"}}, "context.m"),
    ],
)
def test_unsupported_values_name_their_path(value: object, path: str) -> None:
    with pytest.raises(ScriptError) as info:
        to_wire(value, "context")
    assert info.value.type is ErrorType.INVALID_INPUT
    assert info.value.message.startswith(path + ":")


def test_nesting_beyond_the_limit_is_depth_limit() -> None:
    deep: object = 1
    for _ in range(10):
        deep = [deep]
    assert to_wire(deep, "x", max_depth=10) is not None
    with pytest.raises(ScriptError) as info:
        to_wire([deep], "x", max_depth=10)
    assert info.value.type is ErrorType.DEPTH_LIMIT


def test_scalar_subclasses_become_plain_values() -> None:
    class Colour(enum.IntEnum):
        RED = 1

    out = to_wire({"c": Colour.RED, "f": True}, "context")
    assert out == {"c": 1, "f": True}
    assert type(out["c"]) is int


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(1 << 63), (1 << 63) - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(values)
def test_every_supported_value_passes_unchanged(value: object) -> None:
    assert to_wire(value, "v", max_depth=0) == value


def test_language_from_extension() -> None:
    assert Language.from_filename("a/b/x.tengo") is Language.TENGO
    assert Language.from_filename("x.zy") is Language.ZYGOMYS
    assert Language.from_filename("x.zygomys") is Language.ZYGOMYS
    with pytest.raises(ValueError, match="unknown script extension"):
        Language.from_filename("x.lua")


def test_limits_are_validated_and_mapped_to_the_wire() -> None:
    with pytest.raises(ValueError):
        SecurityLimits(timeout=0)
    wire = SecurityLimits(timeout=0.2, memory_mb=8).to_wire()
    assert wire["timeout_ms"] == 200
    assert wire["cpu_ms"] == 200
    assert wire["memory_bytes"] == 8 << 20


def test_script_error_reads_well() -> None:
    err = ScriptError(ErrorType.COMPILATION, "unresolved reference 'x'", module="m", script="s", line=3, column=5)
    assert str(err) == "m/s:3:5: compilation: unresolved reference 'x'"
