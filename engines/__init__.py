"""The language boundary: data model, value conversion, and the Go runner client."""

from .binary import RUNNER_ENV, RunnerNotFound, runner_path
from .model import (
    DEFAULT_TENGO_MODULES,
    SCRIPT_EXTENSIONS,
    ErrorType,
    ExecutionMetrics,
    Language,
    Script,
    ScriptError,
    ScriptInput,
    ScriptOutput,
    SecurityLimits,
    Whitelist,
    checksum_of,
)
from .process import HostFunction, LoadInfo, RunnerProcess, RunnerStats, SpawnLimits
from .values import to_wire

__all__ = [
    "DEFAULT_TENGO_MODULES",
    "RUNNER_ENV",
    "SCRIPT_EXTENSIONS",
    "ErrorType",
    "ExecutionMetrics",
    "HostFunction",
    "Language",
    "LoadInfo",
    "RunnerNotFound",
    "RunnerProcess",
    "RunnerStats",
    "Script",
    "ScriptError",
    "ScriptInput",
    "ScriptOutput",
    "SecurityLimits",
    "SpawnLimits",
    "Whitelist",
    "checksum_of",
    "runner_path",
    "to_wire",
]
