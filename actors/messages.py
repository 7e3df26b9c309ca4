"""Messages the actors exchange. Modules send the public ones to
``engine.supervisor``; the rest are the runtime's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from engines import ScriptInput, SecurityLimits
from registry.providers import EmbeddedProvider

# --- public: modules may send these to the supervisor -------------------------


@attrs.frozen
class Execute:
    """Run ``module/script``. ``ask`` replies with a pykka ``Future`` of the
    ``ScriptOutput`` (``.get()`` raises ``ScriptError``), because the supervisor
    only dispatches and never waits for a script; ``tell`` is fire-and-forget
    (failures are logged and counted)."""

    module: str
    script: str
    input: ScriptInput = attrs.field(factory=ScriptInput)
    timeout: float | None = None
    limits: SecurityLimits | None = None


@attrs.frozen
class GetStatus:
    """``ask`` replies with an ``EngineStatus``."""


@attrs.frozen
class RegisterProvider:
    """Add a module's embedded scripts; ``ask`` replies with their names."""

    provider: EmbeddedProvider


@attrs.frozen
class SubscribeReloads:
    """Deliver every ``ReloadEvent`` to ``subscriber``: an ``ActorRef`` (told the
    event) or a callable (called from the registry actor's thread; keep it quick)."""

    subscriber: Any


@attrs.frozen
class Extract:
    """Write embedded scripts under ``target_dir``; ``ask`` replies with a list
    of ``ExtractResult``."""

    target_dir: Path
    module: str | None = None


# --- internal -----------------------------------------------------------------


@attrs.frozen
class Reconcile:
    """Registry actor: re-read these keys from disk (and everything when ``rescan``)."""

    keys: tuple[tuple[str, str], ...]
    rescan: bool = False
    min_age: float = 0.0  # files modified more recently than this are still being written
    retry_to: Any = None  # ActorRef told Retry(keys) for files still being written


@attrs.frozen
class Retry:
    """Watcher: these keys' files were still being written; try them again later."""

    keys: tuple[tuple[str, str], ...]


@attrs.frozen
class PathsChanged:
    """Watcher: the file system reported changes under these paths."""

    paths: tuple[str, ...]
    directories: tuple[str, ...] = ()


@attrs.frozen
class Flush:
    """Watcher: hand the keys that have been quiet long enough to the registry."""


@attrs.frozen
class Evict:
    """Supervisor: no active script has this checksum any more; executors unload it."""

    checksum: str


@attrs.frozen
class UnloadProgram:
    """Executor: drop every compiled program of this source checksum from your runner."""

    checksum: str


@attrs.frozen
class Ready:
    """``ask`` replies True once the actor has finished starting (its start-up
    work, such as the registry's first scan of the scripts directory, is done)."""


@attrs.frozen
class RunJob:
    """Executor: run a queued asynchronous request on your runner."""

    job: Any  # actors.pool.AsyncJob


@attrs.frozen
class RestartRunner:
    """Executor: your runner died; start it again (``crashed``: count it against
    the restart intensity)."""

    crashed: bool


@attrs.frozen
class ChildFailed:
    """Supervisor: the actor in ``slot`` of ``language`` died of an exception."""

    language: str
    index: int
    error: str


@attrs.frozen
class HealthCheck:
    """Supervisor: look for runners that died while idle."""


@attrs.frozen
class Shutdown:
    """Supervisor: finish in-flight work, refuse queued work, stop everything."""

    timeout: float = 10.0
