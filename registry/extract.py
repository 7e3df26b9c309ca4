"""Extraction (Req 4): write embedded scripts to ``<dir>/<module>/<file>`` as a
starting point for overrides, never overwriting an existing file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs

from engines import Script

from .external import candidates

WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"


@attrs.frozen
class ExtractResult:
    module: str
    name: str
    path: str
    outcome: str  # written | skipped | failed
    reason: str | None = None


def extract_scripts(scripts: Iterable[Script], target_dir: Path, module: str | None = None) -> list[ExtractResult]:
    """Write each script (of ``module``, or all) to ``target_dir/<module>/<file name>``.

    An existing file is never touched (``skipped``); the file is created
    exclusively, so a file that appears meanwhile is not overwritten either.
    """
    results: list[ExtractResult] = []
    for script in scripts:
        if module is not None and script.module != module:
            continue
        filename = Path(script.path).name if script.path else f"{script.name}{script.language.extension}"
        path = target_dir / script.module / filename
        existing = candidates(target_dir.absolute(), (script.module, script.name))
        if existing:
            reason = "already exists" if path.absolute() in existing else f"{existing[0].name} already overrides it"
            results.append(ExtractResult(script.module, script.name, str(path), SKIPPED, reason))
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "x", encoding="utf-8") as fh:
                fh.write(script.source)
        except FileExistsError:
            results.append(ExtractResult(script.module, script.name, str(path), SKIPPED, "already exists"))
            continue
        except OSError as exc:
            results.append(ExtractResult(script.module, script.name, str(path), FAILED, exc.strerror or str(exc)))
            continue
        results.append(ExtractResult(script.module, script.name, str(path), WRITTEN))
    return results
