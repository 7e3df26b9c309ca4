"""The script registry: which version of each (module, script) is active.

``ScriptRegistry`` is plain, single-threaded state (the registry actor owns it).
Embedded scripts come from providers; an external file in the scripts tree
overrides the embedded script of the same module and name, in either language,
once it has been read safely and compiled (validated). Every change publishes a
new immutable :class:`RegistrySnapshot`, which the execution path reads
without asking anybody, and every reload decision is reported as a
:class:`ReloadEvent`.

Rules for a (module, name) key, applied by :meth:`ScriptRegistry.reconcile`:

- no file: the embedded default (``reverted``) or nothing (``removed``);
- two or more files (``x.tengo`` and ``x.zy``): ``ambiguous`` — none of them
  activates, the active version stays;
- one file that cannot be read safely or does not compile: ``rejected`` with
  the reason (and line/column), the active version stays;
- one good file: ``activated``.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import attrs
from loguru import logger

from engines import ErrorType, Script, ScriptError

from .external import (
    DEFAULT_MAX_SCRIPT_BYTES,
    ExternalFileError,
    FileInFlux,
    ScriptKey,
    candidates,
    read_script,
    scan,
)
from .providers import EmbeddedProvider

ACTIVATED, REJECTED, REVERTED, REMOVED, AMBIGUOUS = "activated", "rejected", "reverted", "removed", "ambiguous"


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
class ReloadEvent:
    """The outcome of one reload decision for (module, name)."""

    module: str
    name: str
    outcome: str  # activated | rejected | reverted | removed | ambiguous
    at: float
    path: str | None = None  # the file the decision was about
    file_checksum: str | None = None  # of that file's content, when it was read
    active_source: str | None = None  # embedded | external | None: what is active afterwards
    active_checksum: str | None = None
    error_type: str | None = None
    message: str | None = None
    line: int | None = None
    column: int | None = None


@attrs.frozen
class RegistrySnapshot:
    """An immutable view of every active script; safe to share between threads."""

    scripts: Mapping[ScriptKey, ActiveScript] = attrs.field(factory=lambda: types.MappingProxyType({}))
    reloads: Mapping[ScriptKey, ReloadEvent] = attrs.field(factory=lambda: types.MappingProxyType({}))
    version: int = 0

    def get(self, module: str, name: str) -> Script:
        """The active script, or ``ScriptError(not_found)``."""
        active = self.scripts.get((module, name))
        if active is None:
            known = sorted(n for (m, n) in self.scripts if m == module)
            hint = f"; {module} has: {', '.join(known)}" if known else f"; no module named {module!r}"
            raise ScriptError(ErrorType.NOT_FOUND, f"no script {module}/{name}{hint}", module=module, script=name)
        return active.script


Validator = Callable[[Script], object]


class ScriptRegistry:
    """Embedded and external scripts; publishes snapshots, reports reloads,
    and names versions that no longer run so runners can evict them."""

    def __init__(
        self,
        *,
        publish: Callable[[RegistrySnapshot], None] | None = None,
        scripts_dir: Path | None = None,
        validate: Validator | None = None,
        notify: Callable[[ReloadEvent], None] | None = None,
        evict: Callable[[str], None] | None = None,
        max_script_bytes: int = DEFAULT_MAX_SCRIPT_BYTES,
    ) -> None:
        self._embedded: dict[ScriptKey, ActiveScript] = {}
        self._external: dict[ScriptKey, ActiveScript] = {}
        self._reloads: dict[ScriptKey, ReloadEvent] = {}
        self._providers: dict[str, EmbeddedProvider] = {}
        self._publish = publish
        self._notify = notify
        self._evict = evict
        self._validate = validate
        self.scripts_dir = Path(scripts_dir).absolute() if scripts_dir is not None else None
        self.max_script_bytes = max_script_bytes
        self._version = 0
        self.snapshot = RegistrySnapshot()

    # --- embedded -----------------------------------------------------------

    def register_provider(self, provider: EmbeddedProvider) -> list[Script]:
        """Add (or replace) the embedded scripts of ``provider.module``."""
        scripts = provider.scripts()
        before = self._checksums()
        now = time.time()
        for key in [k for k in self._embedded if k[0] == provider.module]:
            del self._embedded[key]
        for script in scripts:
            self._embedded[(script.module, script.name)] = ActiveScript(script, now)
        self._providers[provider.module] = provider
        self._republish(before)
        return scripts

    @property
    def providers(self) -> list[EmbeddedProvider]:
        return list(self._providers.values())

    def embedded_scripts(self, module: str | None = None) -> list[Script]:
        return [a.script for (m, _), a in sorted(self._embedded.items()) if module is None or m == module]

    # --- external -----------------------------------------------------------

    def keys_on_disk(self) -> list[ScriptKey]:
        """Every key in the tree, plus every key with an external version or a
        reload outcome (their files may be gone)."""
        if self.scripts_dir is None:
            return []
        return sorted(scan(self.scripts_dir) | set(self._external) | set(self._reloads))

    def reconcile_many(
        self, keys: Iterable[ScriptKey], min_age: float = 0.0
    ) -> tuple[list[ReloadEvent], list[ScriptKey]]:
        """:meth:`reconcile` each key. Returns the events and the keys whose
        files were still being written (to be tried again later). One key that
        fails unexpectedly is logged; it never stops the others."""
        events: list[ReloadEvent] = []
        deferred: list[ScriptKey] = []
        for key in keys:
            try:
                event = self.reconcile(key, min_age)
            except FileInFlux:
                deferred.append(key)
                continue
            except Exception:
                logger.exception("reload of {}/{} failed; the active version stays", *key)
                continue
            if event is not None:
                events.append(event)
        return events, deferred

    def reconcile(self, key: ScriptKey, min_age: float = 0.0) -> ReloadEvent | None:
        """Re-read ``key`` from disk and decide what is active. Returns the
        event, or None when nothing changed. Raises :class:`FileInFlux` when
        the file is being written (modified less than ``min_age`` seconds ago,
        or while it was read): nothing is decided, ask again later."""
        if self.scripts_dir is None:
            return None
        paths = candidates(self.scripts_dir, key)
        if not paths:
            return self._fall_back(key)
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            return self._report(key, AMBIGUOUS, None, message=f"{names} all define {key[0]}/{key[1]}; none is used")
        path = paths[0]
        try:
            script = read_script(self.scripts_dir, path, self.max_script_bytes, min_age)
        except ExternalFileError as exc:
            return self._report(key, REJECTED, path, error_type="invalid_input", message=str(exc))
        last = self._reloads.get(key)
        if (
            last is not None
            and last.outcome in (ACTIVATED, REJECTED)
            and last.path == str(path)
            and last.file_checksum == script.checksum
        ):
            return None  # the same content was already decided on
        if self._validate is not None:
            try:
                self._validate(script)
            except ScriptError as err:
                return self._report(
                    key,
                    REJECTED,
                    path,
                    file_checksum=script.checksum,
                    error_type=err.type.value,
                    message=err.message,
                    line=err.line,
                    column=err.column,
                )
        before = self._checksums()
        self._external[key] = ActiveScript(script, time.time())
        return self._report(key, ACTIVATED, path, republish_from=before, file_checksum=script.checksum)

    def _fall_back(self, key: ScriptKey) -> ReloadEvent | None:
        last = self._reloads.get(key)
        if key not in self._external:
            if last is None or last.outcome in (REVERTED, REMOVED):
                return None
            # a rejected or ambiguous file went away: the active version never changed
            outcome = REVERTED if key in self._embedded else REMOVED
            return self._report(key, outcome, None, message="the external file is gone")
        before = self._checksums()
        del self._external[key]
        outcome = REVERTED if key in self._embedded else REMOVED
        return self._report(key, outcome, None, message="the external file is gone", republish_from=before)

    # --- publishing -----------------------------------------------------------

    def _active(self) -> dict[ScriptKey, ActiveScript]:
        return {**self._embedded, **self._external}

    def _checksums(self) -> set[str]:
        return {a.script.checksum for a in self._active().values()}

    def _report(
        self,
        key: ScriptKey,
        outcome: str,
        path: Path | None,
        *,
        republish_from: set[str] | None = None,
        file_checksum: str | None = None,
        error_type: str | None = None,
        message: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> ReloadEvent:
        active = self._active().get(key)
        event = ReloadEvent(
            module=key[0],
            name=key[1],
            outcome=outcome,
            at=time.time(),
            path=str(path) if path else None,
            file_checksum=file_checksum,
            active_source=active.source if active else None,
            active_checksum=active.script.checksum if active else None,
            error_type=error_type,
            message=message,
            line=line,
            column=column,
        )
        self._reloads[key] = event
        self._republish(republish_from)
        if self._notify is not None:
            self._notify(event)
        return event

    def _republish(self, before: set[str] | None = None) -> None:
        self._version += 1
        self.snapshot = RegistrySnapshot(
            types.MappingProxyType(self._active()), types.MappingProxyType(dict(self._reloads)), self._version
        )
        if self._publish is not None:
            self._publish(self.snapshot)
        if before is not None and self._evict is not None:
            for checksum in before - self._checksums():
                self._evict(checksum)
