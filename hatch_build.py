"""Build hook: compiles the Go runner (engines/runner) into engines/_bin/goby-runner
for both wheels and editable installs, with the machine's Go toolchain."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

RUNNER_SRC = Path("engines") / "runner"
RUNNER_BIN = Path("engines") / "_bin" / "goby-runner"


class RunnerBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        go = shutil.which("go")
        if go is None:
            raise RuntimeError(
                "goby-scripting needs the Go toolchain (go 1.23 or newer on PATH) to build its runner; "
                "install Go from https://go.dev/dl/ and run the install again."
            )
        out = root / RUNNER_BIN
        out.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CGO_ENABLED": "0"}
        self.app.display_info(f"building goby-runner with {go}")
        subprocess.run(
            [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), "."],
            cwd=root / RUNNER_SRC,
            env=env,
            check=True,
        )
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(out)] = str(RUNNER_BIN)
