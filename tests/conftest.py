"""Shared fixtures. Tests that need the runner use the real ``goby-runner``:
the one the install built, or ``$GOBY_RUNNER``, or one built here with ``go build``."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from engines import RunnerNotFound, RunnerProcess, runner_path

ROOT = Path(__file__).resolve().parent.parent


def _ensure_runner() -> Path:
    try:
        return runner_path()
    except RunnerNotFound:
        go = shutil.which("go")
        if go is None:
            raise
        out = ROOT / "engines" / "_bin" / "goby-runner"
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [go, "build", "-trimpath", "-o", str(out), "."],
            cwd=ROOT / "engines" / "runner",
            env={**os.environ, "CGO_ENABLED": "0"},
            check=True,
        )
        return runner_path()


@pytest.fixture(scope="session")
def runner_binary() -> Path:
    return _ensure_runner()


@pytest.fixture
def runner(runner_binary: Path) -> Iterator[RunnerProcess]:
    proc = RunnerProcess(binary=runner_binary, name="test")
    proc.start()
    yield proc
    proc.stop()


def runner_children() -> set[int]:
    return {
        c.pid
        for c in psutil.Process().children(recursive=True)
        if c.status() != psutil.STATUS_ZOMBIE and "goby-runner" in c.name()
    }


@pytest.fixture(autouse=True)
def no_leaked_children(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test must not leave behind a runner process it started (runners of
    module- or session-scoped fixtures are theirs to stop)."""
    if request.node.get_closest_marker("shared_engine"):
        yield  # the module's engine restarts runners as part of the test; its fixture checks at the end
        return
    before = runner_children()
    yield
    leaked = runner_children() - before
    for pid in leaked:
        psutil.Process(pid).kill()
    assert not leaked, f"runner processes left behind: {sorted(leaked)}"
