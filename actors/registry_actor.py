"""``RegistryActor``: owns the ``ScriptRegistry``, validates external scripts
with a runner of its own, publishes snapshots, and tells subscribers about
every reload.

Executions never ask this actor anything: they read the latest immutable
snapshot from the :class:`SnapshotBox` it publishes to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from engines import RunnerProcess, Script, SpawnLimits
from registry.extract import ExtractResult, extract_scripts
from registry.providers import EmbeddedProvider, ProviderError
from registry.registry import RegistrySnapshot, ReloadEvent, ScriptRegistry

from .messages import Extract, Ready, Reconcile, RegisterProvider, Retry, SubscribeReloads
from .policy import ModulePolicies

ReloadCallback = Callable[[ReloadEvent], None]


class SnapshotBox:
    """Holds the current registry snapshot; replacing it is one atomic store."""

    def __init__(self) -> None:
        self.current = RegistrySnapshot()

    def publish(self, snapshot: RegistrySnapshot) -> None:
        self.current = snapshot


class RegistryActor(pykka.ThreadingActor):
    def __init__(
        self,
        box: SnapshotBox,
        providers: list[EmbeddedProvider],
        *,
        scripts_dir: Path | None,
        policies: ModulePolicies,
        spawn: SpawnLimits,
        runner_binary: Path | None,
        evict: Callable[[str], None],
        max_script_bytes: int,
    ) -> None:
        super().__init__()
        self._initial = providers
        self._subscribers: list[ReloadCallback | pykka.ActorRef[Any]] = []
        self._policies = policies
        self._validator = RunnerProcess(binary=runner_binary, name="validator", spawn=spawn)
        self.registry = ScriptRegistry(
            publish=box.publish,
            scripts_dir=scripts_dir,
            validate=self._validate,
            notify=self._notify,
            evict=evict,
            max_script_bytes=max_script_bytes,
        )

    def on_start(self) -> None:
        for provider in self._initial:
            try:
                self.registry.register_provider(provider)
            except (ProviderError, OSError, UnicodeDecodeError) as exc:
                logger.error("embedded scripts of module {} not registered: {}", provider.module, exc)
        # files as they are at start-up; one still being written is taken by the watcher's first rescan
        self.registry.reconcile_many(self.registry.keys_on_disk())

    def on_stop(self) -> None:
        self._validator.stop()

    def on_failure(self, *exc_info: Any) -> None:
        self._validator.stop()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Reconcile):
            return self._reconcile(message)
        if isinstance(message, RegisterProvider):
            return [s.name for s in self._register(message.provider)]
        if isinstance(message, SubscribeReloads):
            self._subscribers.append(message.subscriber)
            return None
        if isinstance(message, Ready):
            return True
        if isinstance(message, Extract):
            return self.extract(message.target_dir, message.module)
        return super().on_receive(message)

    def _reconcile(self, message: Reconcile) -> list[ReloadEvent]:
        keys = list(message.keys)
        if message.rescan:
            keys += [k for k in self.registry.keys_on_disk() if k not in keys]
        events, deferred = self.registry.reconcile_many(keys, message.min_age)
        if deferred and message.retry_to is not None:
            message.retry_to.tell(Retry(tuple(deferred)))
        return events

    def extract(self, target_dir: Path, module: str | None) -> list[ExtractResult]:
        return extract_scripts(self.registry.embedded_scripts(module), target_dir, module)

    def _register(self, provider: EmbeddedProvider) -> list[Script]:
        """A provider registered after start-up (its errors go back to the caller);
        an external override of one of its scripts may have been waiting for it."""
        scripts = self.registry.register_provider(provider)
        self.registry.reconcile_many((s.module, s.name) for s in scripts)
        return scripts

    def _validate(self, script: Script) -> object:
        return self._validator.check(script, whitelist=self._policies.whitelist_for(script.module))

    def _notify(self, event: ReloadEvent) -> None:
        log = logger.bind(module=event.module, script=event.name)
        where = f" at {event.line}:{event.column}" if event.line is not None else ""
        if event.outcome in ("rejected", "ambiguous"):
            log.warning(
                "reload {}/{}: {} ({}{}); active: {} {}",
                event.module,
                event.name,
                event.outcome,
                event.message,
                where,
                event.active_source,
                (event.active_checksum or "")[:12],
            )
        else:
            log.info(
                "reload {}/{}: {}; active: {} {}",
                event.module,
                event.name,
                event.outcome,
                event.active_source,
                (event.active_checksum or "")[:12],
            )
        for subscriber in list(self._subscribers):
            try:
                if isinstance(subscriber, pykka.ActorRef):
                    subscriber.tell(event)
                else:
                    subscriber(event)
            except Exception as exc:
                logger.warning("reload subscriber {!r} failed: {}", subscriber, exc)
                if isinstance(subscriber, pykka.ActorRef) and not subscriber.is_alive():
                    self._subscribers.remove(subscriber)
