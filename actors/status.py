"""Engine status (Req 7.2, 7.3): attrs classes, unstructured to JSON by cattrs,
and the per-script execution counters behind them."""

from __future__ import annotations

import collections
import threading
from typing import Any

import attrs
import cattrs

from engines import ErrorType
from registry.registry import ReloadEvent


@attrs.frozen
class ExecutorStatus:
    index: int
    pid: int | None
    state: str  # idle | busy | restarting | stopped
    executions: int
    restarts: int
    last_exit_reason: str | None
    rss_bytes: int | None


@attrs.frozen
class LanguageStatus:
    language: str
    state: str  # ok | degraded
    degraded_reason: str | None
    pool_size: int
    queue_depth: int
    queue_size: int
    executors: list[ExecutorStatus]


@attrs.frozen
class ScriptStatus:
    module: str
    name: str
    language: str
    source: str  # embedded | external
    checksum: str
    loaded_at: float
    executions: int = 0
    successes: int = 0
    failures: dict[str, int] = attrs.field(factory=dict)
    last_reload: ReloadEvent | None = None


@attrs.frozen
class EngineStatus:
    started_at: float
    uptime_s: float
    running: bool
    host_pid: int
    host_rss_bytes: int
    languages: dict[str, LanguageStatus]
    scripts: list[ScriptStatus]
    rejected: dict[str, int]  # requests refused before reaching a script, by error type
    reloads: list[ReloadEvent]  # the last reload outcome of every key seen in the scripts directory
    sandbox: dict[str, str]  # isolation layers of the runners on this machine (active, or why not)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        result: dict[str, Any] = status_converter.unstructure(self)
        return result


status_converter = cattrs.Converter()


@attrs.define
class ScriptCounters:
    executions: int = 0
    successes: int = 0
    failures: collections.Counter[str] = attrs.field(factory=collections.Counter)


class ExecutionStats:
    """Counters per (module, script), and requests rejected before they ran.
    Thread-safe; one short lock per execution."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[tuple[str, str], ScriptCounters] = collections.defaultdict(ScriptCounters)
        self._rejected: collections.Counter[str] = collections.Counter()

    def record(self, module: str, name: str, error: ErrorType | None) -> None:
        with self._lock:
            counters = self._scripts[(module, name)]
            counters.executions += 1
            if error is None:
                counters.successes += 1
            else:
                counters.failures[error.value] += 1

    def reject(self, error: ErrorType) -> None:
        with self._lock:
            self._rejected[error.value] += 1

    def counters(self, module: str, name: str) -> tuple[int, int, dict[str, int]]:
        with self._lock:
            c = self._scripts.get((module, name))
            if c is None:
                return 0, 0, {}
            return c.executions, c.successes, dict(c.failures)

    def rejected(self) -> dict[str, int]:
        with self._lock:
            return dict(self._rejected)
