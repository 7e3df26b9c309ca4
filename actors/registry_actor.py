"""``RegistryActor``: owns the ``ScriptRegistry`` and publishes its snapshots.

Executions never ask this actor anything: they read the latest immutable
snapshot from the :class:`SnapshotBox` it publishes to.
"""

from __future__ import annotations

from typing import Any

import pykka
from loguru import logger

from registry.providers import EmbeddedProvider, ProviderError
from registry.registry import RegistrySnapshot, ScriptRegistry

from .messages import RegisterProvider


class SnapshotBox:
    """Holds the current registry snapshot; replacing it is one atomic store."""

    def __init__(self) -> None:
        self.current = RegistrySnapshot()

    def publish(self, snapshot: RegistrySnapshot) -> None:
        self.current = snapshot


class RegistryActor(pykka.ThreadingActor):
    def __init__(self, box: SnapshotBox, providers: list[EmbeddedProvider]) -> None:
        super().__init__()
        self.registry = ScriptRegistry(publish=box.publish)
        self._initial = providers

    def on_start(self) -> None:
        for provider in self._initial:
            try:
                self.registry.register_provider(provider)
            except (ProviderError, OSError, UnicodeDecodeError) as exc:
                logger.error("embedded scripts of module {} not registered: {}", provider.module, exc)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, RegisterProvider):
            return [s.name for s in self.registry.register_provider(message.provider)]
        return super().on_receive(message)
