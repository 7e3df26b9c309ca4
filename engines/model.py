"""The data model shared by every layer: scripts, inputs, outputs, limits, errors."""

from __future__ import annotations

import enum
import hashlib
from pathlib import PurePath
from typing import Any

import attrs


class Language(enum.StrEnum):
    """A script language the runner speaks."""

    TENGO = "tengo"
    ZYGOMYS = "zygomys"

    @classmethod
    def from_filename(cls, filename: str | PurePath) -> Language:
        """The language of a script file, from its extension.

        Raises ``ValueError`` for an extension that is not a script language.
        """
        suffix = PurePath(filename).suffix.lower()
        try:
            return _EXTENSIONS[suffix]
        except KeyError:
            known = ", ".join(sorted(_EXTENSIONS))
            raise ValueError(
                f"{PurePath(filename).name}: unknown script extension {suffix!r} (expected one of {known})"
            ) from None

    @property
    def extension(self) -> str:
        """The canonical file extension (with the dot)."""
        return ".tengo" if self is Language.TENGO else ".zy"


_EXTENSIONS = {".tengo": Language.TENGO, ".zy": Language.ZYGOMYS, ".zygomys": Language.ZYGOMYS}
SCRIPT_EXTENSIONS: frozenset[str] = frozenset(_EXTENSIONS)


class ErrorType(enum.StrEnum):
    """Why an execution (or a compilation) did not produce a result."""

    COMPILATION = "compilation"
    INVALID_SYNTAX = "invalid_syntax"
    EXECUTION = "execution"
    TIMEOUT = "timeout"
    CPU_LIMIT = "cpu_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    LOG_LIMIT = "log_limit"
    DEPTH_LIMIT = "depth_limit"
    CALL_LIMIT = "call_limit"
    SECURITY_VIOLATION = "security_violation"
    NOT_FOUND = "not_found"
    INVALID_INPUT = "invalid_input"
    RUNNER_CRASHED = "runner_crashed"
    OVERLOADED = "overloaded"
    SHUTTING_DOWN = "shutting_down"


@attrs.define(auto_exc=True, eq=False)
class ScriptError(Exception):
    """The one error type of the engine; ``type`` says what went wrong."""

    type: ErrorType
    message: str
    module: str | None = None
    script: str | None = None
    line: int | None = None
    column: int | None = None
    logs: list[str] = attrs.field(factory=list)

    def __str__(self) -> str:
        where = ""
        if self.module or self.script:
            where = f"{self.module or '?'}/{self.script or '?'}"
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.type.value}: {self.message}"


def checksum_of(source: str) -> str:
    """The checksum the engine uses for a script source (sha256, hex)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


@attrs.frozen
class Script:
    """One script: where it belongs, its language and its source."""

    module: str
    name: str
    language: Language
    source: str
    origin: str = "embedded"  # "embedded" | "external" | "file"
    path: str | None = None
    checksum: str = attrs.field()

    @checksum.default
    def _checksum(self) -> str:
        return checksum_of(self.source)

    @classmethod
    def from_file(cls, path: str | PurePath, *, module: str = "cli", origin: str = "file") -> Script:
        """Read a script file; language from the extension, name from the stem."""
        p = PurePath(path)
        language = Language.from_filename(p)
        with open(p, encoding="utf-8") as fh:
            source = fh.read()
        return cls(module=module, name=p.stem, language=language, source=source, origin=origin, path=str(p))


@attrs.frozen
class ScriptInput:
    """What an execution gets: a context (each key a global), and the message or
    HTTP request that triggered it, when there was one."""

    context: dict[str, Any] = attrs.field(factory=dict)
    message: Any = None
    http: Any = None


@attrs.frozen
class ExecutionMetrics:
    """Measurements of one execution. Runner figures come from the runner itself."""

    duration_ms: float = 0.0  # host-side wall time of the request
    runner_us: int = 0  # the runner's own wall time of the execution
    cpu_us: int = 0
    heap_bytes: int = 0  # peak heap growth seen during the execution
    host_calls: int = 0
    log_bytes: int = 0


@attrs.frozen
class ScriptOutput:
    """A successful execution: the script's ``result``, its log lines and metrics."""

    result: Any
    logs: list[str] = attrs.field(factory=list)
    metrics: ExecutionMetrics = attrs.field(factory=ExecutionMetrics)


@attrs.frozen(cache_hash=True)
class SecurityLimits:
    """Per-execution limits. ``None`` means "no limit" for the optional ones."""

    timeout: float = 1.0  # seconds of wall time
    cpu_time: float | None = None  # seconds of CPU; None -> same as timeout
    memory_mb: float = 64.0  # heap growth during one execution
    max_allocs: int = 100_000_000  # Tengo object allocations (a backstop: heap growth is the memory limit)
    max_output_bytes: int = 1 << 20
    max_log_lines: int = 1000
    max_log_bytes: int = 64 << 10
    max_depth: int = 64
    max_host_calls: int = 1000

    def __attrs_post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError("timeout must be > 0 seconds")
        if self.cpu_time is not None and not self.cpu_time > 0:
            raise ValueError("cpu_time must be > 0 seconds")
        if not self.memory_mb > 0:
            raise ValueError("memory_mb must be > 0")

    def to_wire(self) -> dict[str, int]:
        """The ``limits`` map of an ``exec`` frame."""
        cpu = self.cpu_time if self.cpu_time is not None else self.timeout
        return {
            "timeout_ms": max(1, round(self.timeout * 1000)),
            "cpu_ms": max(1, round(cpu * 1000)),
            "memory_bytes": int(self.memory_mb * 1024 * 1024),
            "max_allocs": self.max_allocs,
            "max_output_bytes": self.max_output_bytes,
            "max_log_lines": self.max_log_lines,
            "max_log_bytes": self.max_log_bytes,
            "max_depth": self.max_depth,
            "max_calls": self.max_host_calls,
        }


DEFAULT_TENGO_MODULES: frozenset[str] = frozenset(
    {"fmt", "math", "rand", "text", "times", "json", "base64", "hex", "enum"}
)


@attrs.frozen(cache_hash=True)
class Whitelist:
    """What a script may reach inside its interpreter.

    ``tengo_modules``: stdlib modules ``import(...)`` may load (``os`` is never in
    the default). ``zygomys_functions``: functions allowed *in addition to* the
    safe core set (e.g. ``"system"``); special forms ``include``/``defmac``/
    ``macexpand`` count as functions here.
    """

    tengo_modules: frozenset[str] = DEFAULT_TENGO_MODULES
    zygomys_functions: frozenset[str] = frozenset()

    def modules_for(self, language: Language) -> list[str]:
        names = self.tengo_modules if language is Language.TENGO else self.zygomys_functions
        return sorted(names)
