"""The OS layer behind the interpreter whitelist: with the whitelist
deliberately widened, the runner process itself still refuses file access
outside its directory, process creation and sockets, with a typed error."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from actors import EngineConfig, ScriptEngine
from engines import (
    ErrorType,
    Language,
    RunnerProcess,
    Script,
    ScriptError,
    SpawnLimits,
    Whitelist,
)

WIDE = Whitelist(tengo_modules=frozenset({"os", "fmt"}), zygomys_functions=frozenset({"system", "slurpf", "writef"}))


@pytest.fixture
def runner(runner_binary: Path) -> RunnerProcess:
    proc = RunnerProcess(binary=runner_binary, name="sandboxed", whitelist=WIDE)
    proc.start()
    yield proc  # type: ignore[misc]
    proc.stop()


def attempt(runner: RunnerProcess, language: Language, source: str) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        runner.execute(Script("sandbox", "probe", language, source))
    return info.value


def back_to_normal(runner: RunnerProcess) -> None:
    assert runner.execute(Script("sandbox", "ok", Language.TENGO, "result := 6 * 7")).result == 42
    assert runner.execute(Script("sandbox", "ok", Language.ZYGOMYS, "(* 6 7)")).result == 42


@pytest.mark.parametrize(
    ("language", "source"),
    [
        (Language.TENGO, 'os := import("os")\nresult := os.read_file("/etc/passwd")'),
        (Language.TENGO, 'os := import("os")\nresult := os.read_file("/proc/1/environ")'),
        (Language.TENGO, 'os := import("os")\nf := os.create("/tmp/goby-sandbox-escape")\nresult := f'),
        (Language.TENGO, 'os := import("os")\nresult := os.exec("/bin/true").run()'),
        (Language.TENGO, 'os := import("os")\nresult := os.start_process("/bin/true", ["/bin/true"], "", [])'),
        (Language.ZYGOMYS, '(def result (system "id"))'),
        (Language.ZYGOMYS, '(def result (slurpf "/etc/passwd"))'),
        (Language.ZYGOMYS, '(writef "escape" "/tmp/goby-sandbox-escape")'),
    ],
)
def test_widened_whitelist_still_stopped_by_the_os_layer(
    runner: RunnerProcess, language: Language, source: str
) -> None:
    err = attempt(runner, language, source)
    assert err.type is ErrorType.SECURITY_VIOLATION, err
    assert "seccomp" in err.message
    assert "SIGSYS" in (runner.last_exit_reason or "")
    assert not runner.last_exit_crashed, "a violation is not a crash: it must not degrade the language"
    assert not Path("/tmp/goby-sandbox-escape").exists()
    back_to_normal(runner)


def test_the_runner_runs_unprivileged_and_locked_down(runner: RunnerProcess) -> None:
    proc = psutil.Process(runner.pid)
    status = Path(f"/proc/{runner.pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"
    if os.geteuid() == 0:
        assert proc.uids().real == 65534
    assert proc.num_fds() <= 16
    layers = runner.sandbox()
    assert layers["seccomp"] == "active"
    assert layers["no_new_privs"] == "active"
    assert layers["landlock"].startswith(("active", "unavailable"))  # reported either way, never missing


def test_status_reports_the_layers(runner_binary: Path) -> None:
    config = EngineConfig(pools={Language.TENGO: 1, Language.ZYGOMYS: 1}, hot_reload=False, discover_providers=False)
    with ScriptEngine.start(config) as engine:
        layers = engine.status().sandbox
    for key in ("environment", "working_directory", "rlimits", "user", "no_new_privs", "seccomp", "landlock"):
        assert layers[key], key
    assert layers["seccomp"] == "active"


def test_sandbox_off_is_reported_as_off(runner_binary: Path) -> None:
    with RunnerProcess(binary=runner_binary, spawn=SpawnLimits(sandbox=False)) as proc:
        proc.start()
        layers = proc.sandbox()
        assert (layers["seccomp"], layers["landlock"]) == ("off", "off")
        # with the OS layer off, the interpreter whitelist is still the first wall
        with pytest.raises(ScriptError) as info:
            proc.execute(
                Script("s", "p", Language.TENGO, 'os := import("os")\nresult := os.read_file("/etc/hostname")')
            )
        assert info.value.type is ErrorType.SECURITY_VIOLATION
