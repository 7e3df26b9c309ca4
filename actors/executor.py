"""``ExecutorActor``: owns one runner process of a language pool.

Synchronous executions drive the runner from the caller's thread while the
pool has leased the executor to it; the actor's own thread runs asynchronous
jobs, (re)starts the runner, and applies the restart intensity.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pykka
from loguru import logger

from engines import ScriptError

from .config import RestartIntensity
from .messages import ChildFailed, RestartRunner, RunJob, UnloadProgram
from .pool import IDLE, RESTARTING, ExecutorPool, ExecutorSlot


class ExecutorActor(pykka.ThreadingActor):
    def __init__(
        self,
        slot: ExecutorSlot,
        pool: ExecutorPool,
        supervisor: pykka.ActorRef[Any],
        intensity: RestartIntensity,
    ) -> None:
        super().__init__()
        self.slot = slot
        self.pool = pool
        self.supervisor = supervisor
        self.intensity = intensity
        self._log = logger.bind(executor=slot.name)
        self._retry: threading.Timer | None = None

    def on_start(self) -> None:
        self.slot.actor = self.actor_ref
        if self.slot.state == RESTARTING:  # a replacement for an actor that died
            self._restart(crashed=False)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, RunJob):
            try:
                message.job.run(self.slot)
            finally:
                self.pool.release(self.slot)
        elif isinstance(message, RestartRunner):
            self._restart(message.crashed)
        elif isinstance(message, UnloadProgram):
            try:
                self.slot.runner.unload(message.checksum)
            except ScriptError as exc:  # the runner died meanwhile: its cache died with it
                self._log.debug("unload of {} on {}: {}", message.checksum[:12], self.slot.name, exc)
        else:
            return super().on_receive(message)
        return None

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self.pool.withdraw(self.slot)
        self.supervisor.tell(ChildFailed(self.slot.language.value, self.slot.index, repr(exception_value)))

    def on_stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        self.slot.runner.stop()

    def _restart(self, crashed: bool) -> None:
        now = time.monotonic()
        if crashed:
            self.slot.crash_times.append(now)
        window = self.intensity.within_seconds
        recent = [t for t in self.slot.crash_times if now - t <= window]
        if len(recent) > self.intensity.max_restarts:
            reason = f"runner {self.slot.name} crashed {len(recent)} times within {window:g}s"
            self._log.error("{}; degraded, next attempt in {:g}s", reason, window)
            self.pool.degrade(reason)
            self.slot.crash_times.clear()
            self._schedule(window)
            return
        try:
            self.slot.runner.start()
        except (ScriptError, OSError) as exc:
            self._log.error("runner {} failed to start: {}", self.slot.name, exc)
            self.slot.crash_times.append(now)
            self._schedule(0.2)
            return
        if self.pool.degraded:
            self._log.info("runner {} is back; {} recovers", self.slot.name, self.slot.language.value)
            self.pool.recover()
        self.slot.state = IDLE
        self.pool.release(self.slot)

    def _schedule(self, delay: float) -> None:
        ref = self.actor_ref

        def retry() -> None:
            if ref.is_alive():
                ref.tell(RestartRunner(crashed=False))

        self._retry = threading.Timer(delay, retry)
        self._retry.daemon = True
        self._retry.start()
