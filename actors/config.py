"""Engine configuration: attrs classes, structured from TOML by cattrs.

```toml
# goby-script.toml
queue_size = 256
scripts_dir = "scripts"
hot_reload = true

[pools]
tengo = 2
zygomys = 2

[limits]
timeout = 1.0
memory_mb = 64

[restart_intensity]
max_restarts = 5
within_seconds = 10

[whitelist]
tengo_modules = ["fmt", "math", "rand", "text", "times", "json", "base64", "hex", "enum"]
zygomys_functions = []

[module_whitelists.wargame]   # this module's scripts get their own whitelist
tengo_modules = ["math", "rand", "times"]
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.v import format_exception

from engines import Language, SecurityLimits, SpawnLimits, Whitelist

DEFAULT_CONFIG_FILE = "goby-script.toml"


@attrs.frozen
class RestartIntensity:
    """At most ``max_restarts`` unexpected runner crashes per executor within
    ``within_seconds``; past that the language is ``degraded`` for a cool-down
    of ``within_seconds``, then one restart is tried again."""

    max_restarts: int = 5
    within_seconds: float = 10.0


def _default_pools() -> dict[Language, int]:
    return {Language.TENGO: 2, Language.ZYGOMYS: 2}


@attrs.frozen
class EngineConfig:
    pools: dict[Language, int] = attrs.field(factory=_default_pools)
    queue_size: int = 256  # per language: requests waiting for an executor
    queue_timeout: float = 30.0  # seconds a request may wait for an executor
    limits: SecurityLimits = attrs.field(factory=SecurityLimits)
    whitelist: Whitelist = attrs.field(factory=Whitelist)
    module_whitelists: dict[str, Whitelist] = attrs.field(factory=dict)  # per module, instead of `whitelist`
    spawn: SpawnLimits = attrs.field(factory=SpawnLimits)
    restart_intensity: RestartIntensity = attrs.field(factory=RestartIntensity)
    scripts_dir: Path = Path("scripts")
    hot_reload: bool = True
    reload_debounce: float = 0.05  # seconds a file must be quiet before it is re-read
    max_script_bytes: int = 256 * 1024  # larger external files are rejected
    discover_providers: bool = True  # entry-point group goby.scripts
    runner_binary: Path | None = None  # default: $GOBY_RUNNER or the bundled runner

    def __attrs_post_init__(self) -> None:
        for language, size in self.pools.items():
            if size < 1:
                raise ValueError(f"pools.{language.value} must be at least 1")
        if self.queue_size < 0:
            raise ValueError("queue_size must be >= 0")

    def pool_size(self, language: Language) -> int:
        return self.pools.get(language, 1)


config_converter = cattrs.Converter(forbid_extra_keys=True)
config_converter.register_structure_hook(Path, lambda v, _: Path(v))
config_converter.register_unstructure_hook(Path, str)


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message says where."""


def _describe(exc: BaseException, type_: Any) -> str:
    if type(exc) is ValueError:  # our own validators: their message says what is wrong
        return f"invalid value: {exc}"
    return format_exception(exc, type_)


def config_from_dict(doc: dict[str, Any]) -> EngineConfig:
    try:
        return config_converter.structure(doc, EngineConfig)
    except cattrs.BaseValidationError as exc:
        raise ConfigError("; ".join(cattrs.transform_error(exc, format_exception=_describe))) from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from exc


def load_config(path: Path | None = None) -> EngineConfig:
    """Read ``path`` (or ``goby-script.toml`` in the working directory when it
    exists); defaults otherwise."""
    if path is None:
        path = Path(DEFAULT_CONFIG_FILE)
        if not path.exists():
            return EngineConfig()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        return config_from_dict(doc)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
