"""What each module's scripts may reach: the interpreter whitelist (engine-wide
default, narrowed or widened per module) and the host functions a module
declared for its scripts. Read on every execution, changed rarely: every
change replaces the tables (copy on write), so readers never take a lock."""

from __future__ import annotations

from collections.abc import Mapping

from engines import HostFunction, Whitelist


class ModulePolicies:
    def __init__(self, default: Whitelist, per_module: Mapping[str, Whitelist] | None = None) -> None:
        self.default = default
        self._whitelists: dict[str, Whitelist] = dict(per_module or {})
        self._functions: dict[tuple[str, str | None], dict[str, HostFunction]] = {}
        self._resolved: dict[tuple[str, str], Mapping[str, HostFunction]] = {}

    def whitelist_for(self, module: str) -> Whitelist:
        return self._whitelists.get(module, self.default)

    def set_whitelist(self, module: str, whitelist: Whitelist | None) -> None:
        """Give ``module`` its own whitelist (None: back to the engine default)."""
        table = dict(self._whitelists)
        if whitelist is None:
            table.pop(module, None)
        else:
            table[module] = whitelist
        self._whitelists = table

    def register_functions(
        self, module: str, functions: Mapping[str, HostFunction], scripts: list[str] | None = None
    ) -> None:
        """Host functions the scripts of ``module`` (or only ``scripts``) may call by name."""
        for name in functions:
            if not name.isidentifier():
                raise ValueError(f"host function name {name!r} is not an identifier")
        table = dict(self._functions)
        targets: list[str | None] = list(scripts) if scripts else [None]
        for script in targets:
            table[(module, script)] = {**table.get((module, script), {}), **functions}
        self._functions = table
        self._resolved = {}

    def functions_for(self, module: str, name: str) -> Mapping[str, HostFunction]:
        found = self._resolved.get((module, name))
        if found is None:
            found = {**self._functions.get((module, None), {}), **self._functions.get((module, name), {})}
            self._resolved[(module, name)] = found
        return found
