"""The executor pool of one language: who is idle, who waits.

A synchronous ``execute`` leases an idle executor and drives its runner from the
caller's own thread (no thread hand-off on the hot path); an asynchronous
request is handed to the executor's actor thread. Both wait in one FIFO queue
when every executor is busy, so a freed executor always takes the oldest
request (no head-of-line blocking behind a slow script), and a full queue
answers ``overloaded`` at once.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import pykka

from engines import ErrorType, Language, RunnerProcess, ScriptError

from .messages import RestartRunner, RunJob

IDLE, BUSY, RESTARTING, STOPPED = "idle", "busy", "restarting", "stopped"


@attrs.define(eq=False)
class ExecutorSlot:
    """Pool-side record of one executor: its runner, its actor, its state."""

    language: Language
    index: int
    runner: RunnerProcess
    actor: pykka.ActorRef[Any] | None = None
    state: str = IDLE
    executions: int = 0
    crash_times: collections.deque[float] = attrs.field(factory=lambda: collections.deque(maxlen=64))

    @property
    def name(self) -> str:
        return f"{self.language.value}-{self.index}"


@attrs.define(eq=False)
class AsyncJob:
    """A request run by an executor's actor thread; ``run`` gets the slot."""

    run: Callable[[ExecutorSlot], None]
    fail: Callable[[ScriptError], None]


@attrs.define(eq=False)
class _Waiter:
    """A synchronous caller waiting for an executor."""

    event: threading.Event = attrs.field(factory=threading.Event)
    slot: ExecutorSlot | None = None
    error: ScriptError | None = None
    abandoned: bool = False


class ExecutorPool:
    """Leases the executors of one language. Thread-safe."""

    def __init__(self, language: Language, queue_size: int, queue_timeout: float) -> None:
        self.language = language
        self.queue_size = queue_size
        self.queue_timeout = queue_timeout
        self.slots: list[ExecutorSlot] = []
        self.degraded_reason: str | None = None
        self._lock = threading.Lock()
        self._idle: collections.deque[ExecutorSlot] = collections.deque()
        self._queue: collections.deque[_Waiter | AsyncJob] = collections.deque()
        self._closing = False
        self._drained = threading.Condition(self._lock)

    # --- membership -------------------------------------------------------

    def add(self, slot: ExecutorSlot) -> None:
        """A new executor, ready (its runner started) or restarting."""
        with self._lock:
            self.slots.append(slot)
        if slot.state == IDLE:
            self.release(slot)

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def degraded(self) -> bool:
        return self.degraded_reason is not None

    # --- leasing ------------------------------------------------------------

    def acquire(self) -> ExecutorSlot:
        """An idle executor for the calling thread, waiting in the queue if need be."""
        with self._lock:
            self._check_open()
            if self._idle:
                slot = self._idle.pop()
                slot.state = BUSY
                return slot
            self._check_room()
            waiter = _Waiter()
            self._queue.append(waiter)
        if not waiter.event.wait(self.queue_timeout):
            with self._lock:
                if waiter.slot is None and waiter.error is None:
                    waiter.abandoned = True
                    self._queue.remove(waiter)
                    raise ScriptError(
                        ErrorType.OVERLOADED,
                        f"no {self.language.value} executor became free within {self.queue_timeout:g}s",
                    )
        if waiter.error is not None:
            raise waiter.error
        assert waiter.slot is not None
        return waiter.slot

    def submit(self, job: AsyncJob) -> None:
        """Hand ``job`` to an idle executor's actor, or queue it. Raises
        ``ScriptError`` (overloaded, shutting_down, runner_crashed) at once."""
        with self._lock:
            self._check_open()
            if self._idle:
                slot = self._idle.pop()
                slot.state = BUSY
                self._tell(slot, RunJob(job))
                return
            self._check_room()
            self._queue.append(job)

    def release(self, slot: ExecutorSlot) -> None:
        """Give back an executor after use. A runner that died on the way is
        restarted by its actor before the executor takes new work."""
        if slot.runner.reaped and not self._closing:  # died during the request (idle deaths: health check)
            with self._lock:
                slot.state = RESTARTING
            self._tell(slot, RestartRunner(crashed=slot.runner.last_exit_crashed))
            return
        with self._lock:
            self._hand_on(slot)

    def _hand_on(self, slot: ExecutorSlot) -> None:
        """(lock held) Give ``slot`` to the oldest queued request, or make it idle."""
        while self._queue and not self._closing:
            entry = self._queue.popleft()
            if isinstance(entry, _Waiter):
                if entry.abandoned:
                    continue
                slot.state = BUSY
                entry.slot = slot
                entry.event.set()
                return
            slot.state = BUSY
            self._tell(slot, RunJob(entry))
            return
        slot.state = STOPPED if self._closing else IDLE
        if not self._closing and slot not in self._idle:
            self._idle.append(slot)
        self._drained.notify_all()

    # --- failure and shutdown -------------------------------------------------

    def withdraw(self, slot: ExecutorSlot) -> None:
        """Take ``slot`` out of service until its actor is replaced and releases it."""
        with self._lock:
            if slot in self._idle:
                self._idle.remove(slot)
            slot.state = RESTARTING

    def take_dead_idle(self) -> list[ExecutorSlot]:
        """Idle executors whose runner died while idle, now marked restarting."""
        with self._lock:
            dead = [slot for slot in self._idle if not slot.runner.alive]
            for slot in dead:
                self._idle.remove(slot)
                slot.state = RESTARTING
            return dead

    def degrade(self, reason: str) -> None:
        """Stop taking work: queued and new requests fail fast with runner_crashed."""
        with self._lock:
            self.degraded_reason = reason
            self._fail_queue(ScriptError(ErrorType.RUNNER_CRASHED, f"{self.language.value} is degraded: {reason}"))

    def recover(self) -> None:
        with self._lock:
            self.degraded_reason = None

    def close(self, timeout: float) -> None:
        """Refuse new work, answer queued requests with shutting_down, and wait
        (up to ``timeout``) for in-flight executions to finish."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
            self._fail_queue(ScriptError(ErrorType.SHUTTING_DOWN, "the engine is shutting down"))
            self._idle.clear()
            while any(s.state == BUSY for s in self.slots):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._drained.wait(remaining)
            for slot in self.slots:
                if slot.state != BUSY:
                    slot.state = STOPPED

    def _fail_queue(self, error: ScriptError) -> None:
        """(lock held)"""
        while self._queue:
            entry = self._queue.popleft()
            if isinstance(entry, _Waiter):
                if not entry.abandoned:
                    entry.error = error
                    entry.event.set()
            else:
                entry.fail(error)

    def _check_open(self) -> None:
        """(lock held)"""
        if self._closing:
            raise ScriptError(ErrorType.SHUTTING_DOWN, "the engine is shutting down")
        if self.degraded_reason is not None:
            raise ScriptError(ErrorType.RUNNER_CRASHED, f"{self.language.value} is degraded: {self.degraded_reason}")

    def _check_room(self) -> None:
        """(lock held)"""
        if len(self._queue) >= self.queue_size:
            raise ScriptError(
                ErrorType.OVERLOADED,
                f"{self.language.value} queue is full ({self.queue_size} waiting for {len(self.slots)} executors)",
            )

    @staticmethod
    def _tell(slot: ExecutorSlot, message: Any) -> None:
        assert slot.actor is not None
        slot.actor.tell(message)
