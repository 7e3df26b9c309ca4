"""``WatcherActor``: a watchdog observer on the scripts directory, debounced.

Editors save in many ways (write in place, temp file + rename, delete +
create, several events per save). Every event names paths; the actor maps them
to (module, script) keys and waits until a key has been quiet for ``debounce``
seconds before asking the registry to re-read it, so a save in progress is
never activated half-written (the registry also refuses a file that changes
while it reads it). A directory that appears (a new module, or one moved in)
is scanned as a whole.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pykka
from loguru import logger
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from registry.external import ScriptKey, classify, scan

from .messages import Flush, PathsChanged, Reconcile, Retry

DEFAULT_DEBOUNCE = 0.05


class _Forwarder(FileSystemEventHandler):
    """Runs in the observer's thread: forwards paths to the actor, nothing else."""

    def __init__(self, actor: pykka.ActorRef[Any]) -> None:
        self.actor = actor

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [os.fsdecode(event.src_path)]
        dest = os.fsdecode(event.dest_path) if getattr(event, "dest_path", "") else ""
        if dest:
            paths.append(dest)
        if event.is_directory and event.event_type == "modified":
            return  # a file inside changed: its own event names it
        directories = tuple(paths) if event.is_directory else ()
        if self.actor.is_alive():
            self.actor.tell(PathsChanged(tuple(paths), directories))


class WatcherActor(pykka.ThreadingActor):
    def __init__(self, scripts_dir: Path, registry: pykka.ActorRef[Any], debounce: float = DEFAULT_DEBOUNCE) -> None:
        super().__init__()
        self.scripts_dir = scripts_dir.absolute()
        self.registry = registry
        self.debounce = debounce
        self._pending: dict[ScriptKey, float] = {}
        self._rescan = False
        self._timer: threading.Timer | None = None
        self._observer: Any = None

    def on_start(self) -> None:
        self.scripts_dir.mkdir(parents=True, exist_ok=True)
        observer = Observer()
        observer.schedule(_Forwarder(self.actor_ref), str(self.scripts_dir), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        logger.info("watching {} for script changes", self.scripts_dir)
        # anything that changed between the registry's start-up scan and now
        self.registry.tell(Reconcile((), rescan=True, min_age=self.debounce, retry_to=self.actor_ref))

    def on_stop(self) -> None:
        self._shutdown()

    def on_failure(self, *exc_info: Any) -> None:
        self._shutdown()

    def _shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(2)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, PathsChanged):
            now = time.monotonic()
            for raw in message.paths:
                path = Path(raw)
                if raw in message.directories:
                    self._directory_changed(path, now)
                    continue
                key = classify(self.scripts_dir, path)
                if key is not None:
                    self._pending[key] = now
            self._arm()
            return None
        if isinstance(message, Retry):
            now = time.monotonic()
            for key in message.keys:
                self._pending.setdefault(key, now)
            self._arm()
            return None
        if isinstance(message, Flush):
            self._flush()
            return None
        return super().on_receive(message)

    def _directory_changed(self, path: Path, now: float) -> None:
        if path == self.scripts_dir:
            self._rescan = True
            return
        try:
            rel = path.relative_to(self.scripts_dir)
        except ValueError:
            return
        if len(rel.parts) == 1:  # a module directory came, went, or moved: every key in it
            for key in scan(self.scripts_dir):
                if key[0] == rel.parts[0]:
                    self._pending[key] = now
            self._rescan = True  # keys of a directory that went away are found by the rescan

    def _arm(self) -> None:
        if self._timer is None and (self._pending or self._rescan):
            ref = self.actor_ref

            def fire() -> None:
                if ref.is_alive():
                    ref.tell(Flush())

            self._timer = threading.Timer(self.debounce, fire)
            self._timer.daemon = True
            self._timer.start()

    def _flush(self) -> None:
        self._timer = None
        now = time.monotonic()
        ready = tuple(sorted(k for k, t in self._pending.items() if now - t >= self.debounce * 0.95))
        for key in ready:
            del self._pending[key]
        rescan = self._rescan and not self._pending
        if rescan:
            self._rescan = False
        if ready or rescan:
            self.registry.tell(Reconcile(ready, rescan=rescan, min_age=self.debounce, retry_to=self.actor_ref))
        self._arm()
