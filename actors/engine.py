"""``ScriptEngine``: the one object modules hold.

```python
from actors import ScriptEngine, EngineConfig
with ScriptEngine.start(EngineConfig()) as engine:
    out = engine.execute("wargame", "damage_calculator", ScriptInput(context={...}), timeout=1.0)
```

``engine.supervisor`` is the supervisor's ``ActorRef``: ``ask(Execute(...))``
replies with the same future ``execute_async`` returns, ``tell(Execute(...))``
is ``submit``, ``ask(GetStatus())`` is ``status()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pykka

from engines import HostFunction, Language, ScriptInput, ScriptOutput, SecurityLimits, Whitelist
from registry.extract import ExtractResult
from registry.providers import EmbeddedProvider, discover_providers
from registry.registry import ReloadEvent

from .config import EngineConfig
from .dispatch import Dispatcher
from .futures import ExecutionFuture
from .logs import route_stdlib_logging
from .messages import Extract, GetStatus, Ready, RegisterProvider, Shutdown, SubscribeReloads
from .policy import ModulePolicies
from .pool import RESTARTING, ExecutorPool
from .registry_actor import SnapshotBox
from .status import EngineStatus, ExecutionStats
from .supervisor import Supervisor

STARTUP_TIMEOUT = 30.0


class ScriptEngine:
    """Facade over the supervisor and the language pools. Thread-safe."""

    def __init__(self, config: EngineConfig, supervisor: pykka.ActorRef[Any], dispatcher: Dispatcher) -> None:
        self.config = config
        self.supervisor = supervisor
        self._dispatcher = dispatcher
        self._stopped = False

    @classmethod
    def start(
        cls, config: EngineConfig | None = None, *, providers: list[EmbeddedProvider] | None = None
    ) -> ScriptEngine:
        """Start the supervisor, its children and every runner; return when the
        runners have greeted (or failed to start, which status then shows)."""
        config = config or EngineConfig()
        route_stdlib_logging()
        found = list(providers or [])
        if config.discover_providers:
            found = discover_providers() + found
        box = SnapshotBox()
        stats = ExecutionStats()
        pools = {language: ExecutorPool(language, config.queue_size, config.queue_timeout) for language in Language}
        policies = ModulePolicies(config.whitelist, config.module_whitelists)
        dispatcher = Dispatcher(pools, box, stats, config.limits, policies)
        supervisor = Supervisor.start(config, pools, box, stats, dispatcher, found)
        engine = cls(config, supervisor, dispatcher)
        engine._await_ready(pools)
        return engine

    def _await_ready(self, pools: Mapping[Language, ExecutorPool]) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        self.supervisor.ask(Ready(), timeout=STARTUP_TIMEOUT)  # the registry has its scripts
        while time.monotonic() < deadline:
            slots = [s for p in pools.values() for s in p.slots]
            if slots and all(s.state != RESTARTING for s in slots):
                return
            if any(p.degraded for p in pools.values()):
                return
            time.sleep(0.005)

    # --- executions ------------------------------------------------------------

    def execute(
        self,
        module: str,
        script: str,
        input: ScriptInput | None = None,
        *,
        timeout: float | None = None,
        limits: SecurityLimits | None = None,
    ) -> ScriptOutput:
        """Run ``module/script`` and return its output; raises ``ScriptError``."""
        return self._dispatcher.execute(module, script, input, timeout=timeout, limits=limits)

    def execute_async(
        self,
        module: str,
        script: str,
        input: ScriptInput | None = None,
        *,
        timeout: float | None = None,
        limits: SecurityLimits | None = None,
    ) -> ExecutionFuture[ScriptOutput]:
        """Start ``module/script`` on an executor's thread; the future (``.get()``
        or ``await``) gives the output or raises ``ScriptError``."""
        return self._dispatcher.execute_async(module, script, input, timeout=timeout, limits=limits)

    def submit(
        self,
        module: str,
        script: str,
        input: ScriptInput | None = None,
        *,
        timeout: float | None = None,
        limits: SecurityLimits | None = None,
    ) -> None:
        """Fire and forget: never raises; failures are logged and counted in status."""
        self._dispatcher.submit(module, script, input, timeout=timeout, limits=limits)

    # --- management ----------------------------------------------------------------

    def status(self) -> EngineStatus:
        status = self.supervisor.ask(GetStatus())
        assert isinstance(status, EngineStatus)
        return status

    def register_provider(self, provider: EmbeddedProvider) -> list[str]:
        """Add a module's embedded scripts; returns their names."""
        names = self.supervisor.ask(RegisterProvider(provider))
        assert isinstance(names, list)
        return names

    def register_functions(
        self, module: str, functions: Mapping[str, HostFunction], *, scripts: list[str] | None = None
    ) -> None:
        """Host functions the scripts of ``module`` (or only ``scripts``) may call by name."""
        self._dispatcher.policies.register_functions(module, functions, scripts)

    def set_whitelist(self, module: str, whitelist: Whitelist | None) -> None:
        """Give ``module``'s scripts their own interpreter whitelist (Tengo stdlib
        modules, extra Zygomys functions); None restores the engine default.
        Applies to the next compilation and validation of each script."""
        self._dispatcher.policies.set_whitelist(module, whitelist)

    def subscribe_reloads(self, subscriber: Callable[[ReloadEvent], None] | pykka.ActorRef[Any]) -> None:
        """Deliver every reload outcome (activated, rejected, reverted, removed,
        ambiguous) to a callable (called from the registry actor's thread: keep
        it quick) or an actor (told the ``ReloadEvent``)."""
        self.supervisor.ask(SubscribeReloads(subscriber))

    def extract(self, target_dir: str | Path, module: str | None = None) -> list[ExtractResult]:
        """Write the embedded scripts (of ``module``, or all) to
        ``target_dir/<module>/<file>``; existing files are skipped, never overwritten."""
        results = self.supervisor.ask(Extract(Path(target_dir), module))
        assert isinstance(results, list)
        return results

    def stop(self, timeout: float = 10.0) -> None:
        """Let in-flight executions finish (bounded by ``timeout``), answer queued
        ones with ``shutting_down``, stop every runner and actor."""
        if self._stopped:
            return
        self._stopped = True
        if self.supervisor.is_alive():
            self.supervisor.ask(Shutdown(timeout), timeout=timeout + 5.0)
            self.supervisor.stop()

    def __enter__(self) -> ScriptEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
