"""Messages the actors exchange. Modules send the public ones to
``engine.supervisor``; the rest are the runtime's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pykka

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


# --- internal -----------------------------------------------------------------


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


@attrs.frozen
class PublishSnapshot:
    """Registry actor: publish your snapshot to ``sink``."""

    sink: Callable[[Any], None]


ActorRef = pykka.ActorRef
