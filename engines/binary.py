"""Where the ``goby-runner`` binary is."""

from __future__ import annotations

import os
from pathlib import Path

RUNNER_ENV = "GOBY_RUNNER"
_BUNDLED = Path(__file__).resolve().parent / "_bin" / "goby-runner"


class RunnerNotFound(RuntimeError):
    """No runner binary: the package was installed without building it."""


def runner_path() -> Path:
    """The runner binary: ``$GOBY_RUNNER`` when set, else the one built into the package."""
    override = os.environ.get(RUNNER_ENV)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RunnerNotFound(f"{RUNNER_ENV}={override} is not an executable file")
        return path
    if _BUNDLED.is_file() and os.access(_BUNDLED, os.X_OK):
        return _BUNDLED
    raise RunnerNotFound(
        f"goby-runner is not built ({_BUNDLED} is missing): reinstall the package with the Go "
        f"toolchain on PATH (pip install .), or point {RUNNER_ENV} at a goby-runner binary"
    )
