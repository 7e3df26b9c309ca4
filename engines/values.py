"""Values across the boundary.

What may cross: ``None, bool, int (64-bit), float, str, bytes, list/tuple,
dict[str, ...]``, nested. Anything else is ``invalid_input`` naming the path
(``context.unit.hp``); nesting deeper than the limit is ``depth_limit``.
"""

from __future__ import annotations

from typing import Any

from .model import ErrorType, ScriptError

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

_SCALARS = (str, float, bool, bytes, type(None))


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def to_wire(value: Any, path: str, max_depth: int = 64) -> Any:
    """Check that ``value`` can cross the boundary and return it in wire form
    (tuples become lists, bytearray/memoryview become bytes).

    Raises ``ScriptError(invalid_input)`` naming the first offending path, or
    ``ScriptError(depth_limit)`` when nesting exceeds ``max_depth`` (0 = no limit).
    """
    limit = max_depth if max_depth > 0 else None
    try:
        return _fast(value, 0, limit)
    except _Unsupported:
        # walk again, slowly, to name the path of the first bad value
        return _convert(value, path, 0, limit)


class _Unsupported(Exception):
    pass


def _fast(value: Any, depth: int, max_depth: int | None) -> Any:
    """The common case, without building path names."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is int:
        if INT64_MIN <= value <= INT64_MAX:
            return value
        raise _Unsupported
    if max_depth is not None and depth >= max_depth:
        raise _Unsupported
    if cls is dict:
        for key in value:
            if type(key) is not str:
                raise _Unsupported
        return {k: _fast(v, depth + 1, max_depth) for k, v in value.items()}
    if cls is list or cls is tuple:
        return [_fast(v, depth + 1, max_depth) for v in value]
    raise _Unsupported  # subclasses and buffers take the slow path, which handles them


def _convert(value: Any, path: str, depth: int, max_depth: int | None) -> Any:
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise ScriptError(ErrorType.INVALID_INPUT, f"{path}: integer {value} does not fit in 64 bits")
        return value
    if max_depth is not None and depth >= max_depth:
        raise ScriptError(ErrorType.DEPTH_LIMIT, f"{path}: nesting deeper than {max_depth} levels")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ScriptError(
                    ErrorType.INVALID_INPUT,
                    f"{path}: map keys must be str, got {type(key).__name__} {key!r}",
                )
            out[str(key)] = _convert(item, _child(path, key), depth + 1, max_depth)
        return out
    if isinstance(value, (list, tuple)):
        return [_convert(item, _child(path, i), depth + 1, max_depth) for i, item in enumerate(value)]
    # subclasses of the scalars (IntEnum, str subclasses) and other byte buffers
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _convert(int(value), path, depth, max_depth)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise ScriptError(
        ErrorType.INVALID_INPUT,
        f"{path}: a value of type {type(value).__name__} cannot cross the boundary "
        "(allowed: None, bool, int, float, str, bytes, list, tuple, dict with str keys)",
    )
