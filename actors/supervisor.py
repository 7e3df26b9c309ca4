"""``Supervisor``: starts the registry actor and the executor actors of each
language pool, restarts an executor actor that dies, answers status queries,
dispatches ``Execute`` messages, and shuts everything down in order."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import psutil
import pykka
from loguru import logger

from engines import Language, RunnerProcess

from .config import EngineConfig
from .dispatch import Dispatcher
from .executor import ExecutorActor
from .messages import (
    ChildFailed,
    Evict,
    Execute,
    Extract,
    GetStatus,
    HealthCheck,
    Ready,
    RegisterProvider,
    RestartRunner,
    Shutdown,
    SubscribeReloads,
    UnloadProgram,
)
from .pool import RESTARTING, ExecutorPool, ExecutorSlot
from .registry_actor import RegistryActor, SnapshotBox
from .status import EngineStatus, ExecutionStats, ExecutorStatus, LanguageStatus, ScriptStatus
from .watcher import WatcherActor

HEALTH_INTERVAL = 0.5


class Supervisor(pykka.ThreadingActor):
    def __init__(
        self,
        config: EngineConfig,
        pools: Mapping[Language, ExecutorPool],
        box: SnapshotBox,
        stats: ExecutionStats,
        dispatcher: Dispatcher,
        providers: list[Any],
    ) -> None:
        super().__init__()
        self.config = config
        self.pools = pools
        self.box = box
        self.stats = stats
        self.dispatcher = dispatcher
        self._providers = providers
        self.registry: pykka.ActorRef[Any] | None = None
        self.watcher: pykka.ActorRef[Any] | None = None
        self.executors: dict[tuple[Language, int], pykka.ActorRef[Any]] = {}
        self.started_at = time.time()
        self._health_stop = threading.Event()
        self._running = True

    # --- lifecycle ------------------------------------------------------------

    def on_start(self) -> None:
        supervisor = self.actor_ref
        self.registry = RegistryActor.start(
            self.box,
            self._providers,
            scripts_dir=self.config.scripts_dir,
            policies=self.dispatcher.policies,
            spawn=self.config.spawn,
            runner_binary=self.config.runner_binary,
            evict=lambda checksum: supervisor.tell(Evict(checksum)),
            max_script_bytes=self.config.max_script_bytes,
        )
        if self.config.hot_reload:
            self.watcher = WatcherActor.start(self.config.scripts_dir, self.registry, self.config.reload_debounce)
        for language, pool in self.pools.items():
            for index in range(self.config.pool_size(language)):
                runner = RunnerProcess(
                    binary=self.config.runner_binary,
                    name=f"{language.value}-{index}",
                    limits=self.config.limits,
                    whitelist=self.config.whitelist,
                    spawn=self.config.spawn,
                )
                slot = ExecutorSlot(language=language, index=index, runner=runner, state=RESTARTING)
                pool.add(slot)
                self._start_executor(slot, pool)
        # external scripts present at start-up are validated before the engine serves
        self.registry.ask(Ready())
        self._start_health_ticks()

    def on_stop(self) -> None:
        self._health_stop.set()

    def _start_executor(self, slot: ExecutorSlot, pool: ExecutorPool) -> None:
        ref = ExecutorActor.start(slot, pool, self.actor_ref, self.config.restart_intensity)
        slot.actor = ref
        self.executors[(slot.language, slot.index)] = ref

    def _start_health_ticks(self) -> None:
        """One long-lived thread tells the supervisor to check health every
        HEALTH_INTERVAL (a new timer thread per tick would churn thread stacks)."""
        ref, stop = self.actor_ref, self._health_stop

        def ticks() -> None:
            while not stop.wait(HEALTH_INTERVAL):
                if not ref.is_alive():
                    return
                ref.tell(HealthCheck())

        threading.Thread(target=ticks, name="goby-health", daemon=True).start()

    # --- messages ---------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Execute):
            return self.dispatcher.execute_async(
                message.module, message.script, message.input, timeout=message.timeout, limits=message.limits
            )
        if isinstance(message, Ready):
            return True
        if isinstance(message, GetStatus):
            return self.status()
        if isinstance(message, (RegisterProvider, SubscribeReloads, Extract)):
            assert self.registry is not None
            return self.registry.ask(message)
        if isinstance(message, Evict):
            for ref in self.executors.values():
                if ref.is_alive():
                    ref.tell(UnloadProgram(message.checksum))
            return None
        if isinstance(message, HealthCheck):
            self._check_health()
            return None
        if isinstance(message, ChildFailed):
            self._replace_executor(message)
            return None
        if isinstance(message, Shutdown):
            self._shutdown(message.timeout)
            return None
        return super().on_receive(message)

    def _check_health(self) -> None:
        if not self._running:
            return
        for pool in self.pools.values():
            for slot in pool.take_dead_idle():
                logger.warning("runner {} died while idle ({}); restarting", slot.name, slot.runner.last_exit_reason)
                if slot.actor is not None:
                    slot.actor.tell(RestartRunner(crashed=True))

    def _replace_executor(self, failed: ChildFailed) -> None:
        if not self._running:
            return
        language = Language(failed.language)
        pool = self.pools[language]
        slot = next(s for s in pool.slots if s.index == failed.index)
        logger.error("executor {} died ({}); starting a new one", slot.name, failed.error)
        slot.crash_times.append(time.monotonic())
        slot.state = RESTARTING
        self._start_executor(slot, pool)

    def _shutdown(self, timeout: float) -> None:
        self._running = False
        self._health_stop.set()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        deadline = time.monotonic() + timeout
        for pool in self.pools.values():
            pool.close(max(0.0, deadline - time.monotonic()))
        for ref in self.executors.values():
            try:
                ref.stop(timeout=max(1.0, deadline - time.monotonic()))
            except pykka.Timeout:
                logger.error("executor actor {} did not stop in time", ref)
        for pool in self.pools.values():
            for slot in pool.slots:  # a runner whose actor could not stop it
                slot.runner.kill()
                slot.runner.stop(timeout=0.5)
        if self.watcher is not None:
            self.watcher.stop()
        if self.registry is not None:
            self.registry.stop()

    # --- status -----------------------------------------------------------------

    def status(self) -> EngineStatus:
        languages = {}
        for language, pool in self.pools.items():
            executors = [
                ExecutorStatus(
                    index=slot.index,
                    pid=slot.runner.pid,
                    state=slot.state,
                    executions=slot.executions,
                    restarts=slot.runner.restarts,
                    last_exit_reason=slot.runner.last_exit_reason,
                    rss_bytes=slot.runner.rss(),
                )
                for slot in pool.slots
            ]
            languages[language.value] = LanguageStatus(
                language=language.value,
                state="degraded" if pool.degraded else "ok",
                degraded_reason=pool.degraded_reason,
                pool_size=len(pool.slots),
                queue_depth=pool.queue_depth,
                queue_size=pool.queue_size,
                executors=executors,
            )
        scripts = []
        for (module, name), active in sorted(self.box.current.scripts.items()):
            executions, successes, failures = self.stats.counters(module, name)
            scripts.append(
                ScriptStatus(
                    module=module,
                    name=name,
                    language=active.script.language.value,
                    source=active.source,
                    checksum=active.script.checksum,
                    loaded_at=active.loaded_at,
                    executions=executions,
                    successes=successes,
                    failures=failures,
                    last_reload=self.box.current.reloads.get((module, name)),
                )
            )
        now = time.time()
        return EngineStatus(
            started_at=self.started_at,
            uptime_s=now - self.started_at,
            running=self._running,
            host_pid=os.getpid(),
            host_rss_bytes=psutil.Process().memory_info().rss,
            languages=languages,
            scripts=scripts,
            rejected=self.stats.rejected(),
            reloads=[event for _, event in sorted(self.box.current.reloads.items())],
            sandbox=self._sandbox_layers(),
        )

    def _sandbox_layers(self) -> dict[str, str]:
        """Every runner is spawned alike: report the layers of one that greeted."""
        slots = [slot for pool in self.pools.values() for slot in pool.slots]
        for slot in slots:
            if slot.runner.hello is not None:
                return slot.runner.sandbox()
        return slots[0].runner.sandbox() if slots else {}
