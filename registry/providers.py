"""Embedded scripts: a provider is a module name plus a Python package whose
resources are that module's default scripts.

Providers are discovered from the entry-point group ``goby.scripts``: the entry
point's name is the module name, its value the package (``wargame =
"examples.wargame.scripts"``), or an :class:`EmbeddedProvider` object.
"""

from __future__ import annotations

import importlib.metadata
import re
from importlib import resources
from types import ModuleType

import attrs
from loguru import logger

from engines import SCRIPT_EXTENSIONS, Language, Script

ENTRY_POINT_GROUP = "goby.scripts"
NAME_PATTERN = re.compile(r"^[a-z0-9_-]+$")


class ProviderError(ValueError):
    """A provider whose scripts cannot be registered (bad names, duplicates)."""


def check_name(kind: str, name: str) -> None:
    """Module and script names are ``[a-z0-9_-]+``."""
    if not NAME_PATTERN.match(name):
        raise ProviderError(f"{kind} name {name!r} must match [a-z0-9_-]+")


@attrs.frozen
class EmbeddedProvider:
    """The default scripts of one module, shipped inside a Python package."""

    module: str
    package: str

    def __attrs_post_init__(self) -> None:
        check_name("module", self.module)

    def scripts(self) -> list[Script]:
        """Every script file among the package's resources (not recursive).

        Raises :class:`ProviderError` when two files give the same script name
        (``x.tengo`` and ``x.zy``) or a name is not ``[a-z0-9_-]+``.
        """
        found: dict[str, Script] = {}
        root = resources.files(self.package)
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if not entry.is_file() or "." not in entry.name:
                continue
            stem, _, ext = entry.name.rpartition(".")
            if f".{ext.lower()}" not in SCRIPT_EXTENSIONS:
                continue
            check_name("script", stem)
            if stem in found:
                raise ProviderError(
                    f"module {self.module}: script {stem!r} is defined twice "
                    f"({found[stem].path} and {entry.name}); names are unique per module"
                )
            found[stem] = Script(
                module=self.module,
                name=stem,
                language=Language.from_filename(entry.name),
                source=entry.read_text(encoding="utf-8"),
                origin="embedded",
                path=f"{self.package}/{entry.name}",
            )
        return list(found.values())


def discover_providers(group: str = ENTRY_POINT_GROUP) -> list[EmbeddedProvider]:
    """Providers registered under the entry-point ``group``. A broken entry point
    is logged and skipped; it never stops the others."""
    providers: list[EmbeddedProvider] = []
    for ep in importlib.metadata.entry_points(group=group):
        try:
            target = ep.load()
            if isinstance(target, EmbeddedProvider):
                providers.append(target)
            elif isinstance(target, ModuleType):
                providers.append(EmbeddedProvider(module=ep.name, package=target.__name__))
            else:
                raise ProviderError(f"expected a package or an EmbeddedProvider, got {type(target).__name__}")
        except Exception as exc:
            logger.error("entry point {} = {} in {} is unusable: {}", ep.name, ep.value, group, exc)
    return providers
