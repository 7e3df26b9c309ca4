"""``ExecutionFuture``: a pykka future that an asyncio coroutine can await
without blocking its event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import pykka

T = TypeVar("T")


class ExecutionFuture(pykka.ThreadingFuture[T]):
    """The result of an asynchronous execution: ``.get(timeout)`` blocks,
    ``await`` suspends the coroutine until an executor answers."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []
        self._done = False
        self._callback_lock = threading.Lock()

    def set(self, value: T | None = None) -> None:
        super().set(value)
        self._fire()

    def set_exception(self, exc_info: Any = None) -> None:
        super().set_exception(exc_info)
        self._fire()

    def done(self) -> bool:
        """Whether the execution has answered (result or error)."""
        return self._done

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from the thread that completes the future, or now)."""
        with self._callback_lock:
            if not self._done:
                self._callbacks.append(callback)
                return
        callback()

    def _fire(self) -> None:
        with self._callback_lock:
            self._done = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def __await__(self) -> Generator[Any, None, T]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not waiter.done():
                waiter.set_result(None)

        def wake() -> None:
            loop.call_soon_threadsafe(resolve)

        self.add_done_callback(wake)
        yield from waiter.__await__()
        value: T = self.get(timeout=0)
        return value
