"""The script registry: which version of each (module, script) is active.

``ScriptRegistry`` is plain, single-threaded state (the registry actor owns it);
every change publishes a new immutable :class:`RegistrySnapshot`, which the
execution path reads without asking anybody.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Mapping

import attrs

from engines import ErrorType, Script, ScriptError

from .providers import EmbeddedProvider

ScriptKey = tuple[str, str]


@attrs.frozen
class ActiveScript:
    """The version of a script that executions use now."""

    script: Script
    loaded_at: float  # epoch seconds

    @property
    def source(self) -> str:
        """``embedded`` or ``external``."""
        return self.script.origin


@attrs.frozen
class RegistrySnapshot:
    """An immutable view of every active script; safe to share between threads."""

    scripts: Mapping[ScriptKey, ActiveScript] = attrs.field(factory=lambda: types.MappingProxyType({}))
    version: int = 0

    def get(self, module: str, name: str) -> Script:
        """The active script, or ``ScriptError(not_found)``."""
        active = self.scripts.get((module, name))
        if active is None:
            known = sorted(n for (m, n) in self.scripts if m == module)
            hint = f"; {module} has: {', '.join(known)}" if known else f"; no module named {module!r}"
            raise ScriptError(ErrorType.NOT_FOUND, f"no script {module}/{name}{hint}", module=module, script=name)
        return active.script

    def modules(self) -> list[str]:
        return sorted({m for (m, _) in self.scripts})


class ScriptRegistry:
    """Embedded scripts from providers; publishes snapshots to ``publish``."""

    def __init__(self, publish: Callable[[RegistrySnapshot], None] | None = None) -> None:
        self._embedded: dict[ScriptKey, ActiveScript] = {}
        self._providers: dict[str, EmbeddedProvider] = {}
        self._publish = publish
        self._version = 0
        self.snapshot = RegistrySnapshot()

    def register_provider(self, provider: EmbeddedProvider) -> list[Script]:
        """Add (or replace) the embedded scripts of ``provider.module``."""
        scripts = provider.scripts()
        now = time.time()
        for key in [k for k in self._embedded if k[0] == provider.module]:
            del self._embedded[key]
        for script in scripts:
            self._embedded[(script.module, script.name)] = ActiveScript(script, now)
        self._providers[provider.module] = provider
        self._republish()
        return scripts

    @property
    def providers(self) -> list[EmbeddedProvider]:
        return list(self._providers.values())

    def embedded(self, module: str, name: str) -> Script | None:
        active = self._embedded.get((module, name))
        return active.script if active else None

    def _active(self) -> dict[ScriptKey, ActiveScript]:
        return dict(self._embedded)

    def _republish(self) -> None:
        self._version += 1
        self.snapshot = RegistrySnapshot(types.MappingProxyType(self._active()), self._version)
        if self._publish is not None:
            self._publish(self.snapshot)
