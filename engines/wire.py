"""Frames of the runner protocol (docs/protocol.md): attrs classes, the cattrs
converter that maps them to msgpack maps, and length-prefixed framing."""

from __future__ import annotations

import struct
from typing import Any

import attrs
import cattrs
import msgpack
from cattrs.gen import make_dict_unstructure_fn, override

PROTOCOL_VERSION = 1
MAX_FRAME = 64 << 20
_HEADER = struct.Struct(">I")

converter = cattrs.Converter(forbid_extra_keys=False)


# --- host -> runner -------------------------------------------------------


@attrs.define
class LoadRequest:
    id: int
    checksum: str
    language: str
    source: str
    modules: list[str]
    functions: list[str]
    op: str = "load"


@attrs.define
class ExecRequest:
    id: int
    checksum: str
    input: dict[str, Any]
    limits: dict[str, int]
    op: str = "exec"


@attrs.define
class CallReply:
    id: int
    call: int
    value: Any = None
    error: str | None = None
    op: str = "reply"


@attrs.define
class SimpleRequest:
    """``ping``, ``stats``, ``shutdown`` and ``unload``."""

    op: str
    id: int
    checksum: str | None = None


# --- runner -> host -------------------------------------------------------


@attrs.define
class Hello:
    protocol: int
    version: str
    pid: int
    languages: list[str]
    tengo: str = ""
    zygomys: str = ""
    sandbox: dict[str, Any] = attrs.Factory(dict)


@attrs.define
class Loaded:
    id: int
    checksum: str
    free: list[str] = attrs.Factory(list)
    cached: bool = False


@attrs.define
class RunnerMetrics:
    wall_us: int = 0
    cpu_us: int = 0
    heap_bytes: int = 0
    calls: int = 0
    log_bytes: int = 0


@attrs.define
class Result:
    id: int
    value: Any = None
    logs: list[str] = attrs.Factory(list)
    metrics: RunnerMetrics = attrs.Factory(RunnerMetrics)


@attrs.define
class ErrorFrame:
    id: int
    type: str
    message: str
    line: int | None = None
    column: int | None = None
    logs: list[str] = attrs.Factory(list)
    metrics: RunnerMetrics = attrs.Factory(RunnerMetrics)
    fatal: bool = False


@attrs.define
class Call:
    id: int
    call: int
    fn: str
    args: list[Any] = attrs.Factory(list)


@attrs.define
class Stats:
    id: int
    executions: int = 0
    programs: int = 0
    heap_bytes: int = 0
    sys_bytes: int = 0
    goroutines: int = 0
    uptime_ms: int = 0
    cpu_ms: int = 0


@attrs.define
class Ack:
    """``pong``, ``bye`` and ``unloaded``."""

    op: str
    id: int
    found: bool | None = None


# Script values are checked and normalised by engines.values before they get
# here: they go to msgpack as they are, not through cattrs' per-item dispatch.
def _passthrough(value: Any) -> Any:
    return value


converter.register_unstructure_hook(
    ExecRequest, make_dict_unstructure_fn(ExecRequest, converter, input=override(unstruct_hook=_passthrough))
)
converter.register_unstructure_hook(
    CallReply, make_dict_unstructure_fn(CallReply, converter, value=override(unstruct_hook=_passthrough))
)

RunnerFrame = Hello | Loaded | Result | ErrorFrame | Call | Stats | Ack

_BY_OP: dict[str, type[Any]] = {
    "hello": Hello,
    "loaded": Loaded,
    "result": Result,
    "error": ErrorFrame,
    "call": Call,
    "stats": Stats,
    "pong": Ack,
    "bye": Ack,
    "unloaded": Ack,
}


class ProtocolError(Exception):
    """The runner sent something that is not a frame of this protocol."""


def encode(message: Any) -> bytes:
    """One frame (header + msgpack body) for an attrs request."""
    body: bytes = msgpack.packb(converter.unstructure(message), use_bin_type=True)
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(body)} bytes exceeds the {MAX_FRAME}-byte limit")
    return _HEADER.pack(len(body)) + body


def decode(body: bytes) -> RunnerFrame:
    """Structure one frame body into its attrs class."""
    try:
        raw = msgpack.unpackb(body, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProtocolError(f"undecodable frame: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("op"), str):
        raise ProtocolError(f"frame is not a map with an op: {raw!r:.200}")
    cls = _BY_OP.get(raw["op"])
    if cls is None:
        raise ProtocolError(f"unknown op {raw['op']!r}")
    try:
        frame: RunnerFrame = converter.structure(raw, cls)
    except Exception as exc:
        raise ProtocolError(f"malformed {raw['op']} frame: {exc}") from exc
    return frame


class FrameBuffer:
    """Accumulates bytes read from the runner and yields complete frame bodies."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_body(self) -> bytes | None:
        buf = self._buf
        if len(buf) < 4:
            return None
        (size,) = _HEADER.unpack_from(buf)
        if size > self._max:
            raise ProtocolError(f"runner announced a frame of {size} bytes (limit {self._max})")
        end = 4 + size
        if len(buf) < end:
            return None
        body = bytes(buf[4:end])
        del buf[:end]
        return body

    def clear(self) -> None:
        self._buf.clear()
