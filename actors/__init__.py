"""The runtime: supervisor, registry/watcher/executor actors, the ScriptEngine facade."""

from .config import ConfigError, EngineConfig, RestartIntensity, load_config
from .engine import ScriptEngine
from .futures import ExecutionFuture
from .messages import Execute, GetStatus, RegisterProvider
from .status import EngineStatus, ExecutorStatus, LanguageStatus, ScriptStatus

__all__ = [
    "ConfigError",
    "EngineConfig",
    "EngineStatus",
    "Execute",
    "ExecutionFuture",
    "ExecutorStatus",
    "GetStatus",
    "LanguageStatus",
    "RegisterProvider",
    "RestartIntensity",
    "ScriptEngine",
    "ScriptStatus",
    "load_config",
]
