"""goby-script as a user runs it: a subprocess, JSON on stdout, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, object] | str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "actors.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=60,
    )
    try:
        out: dict[str, object] | str = json.loads(proc.stdout)
    except json.JSONDecodeError:
        out = proc.stdout
    return proc.returncode, out, proc.stderr


@pytest.fixture(autouse=True)
def _runner(runner_binary: Path) -> None:
    """The CLI finds the runner the way an installed package does."""


def test_exec_a_tengo_file(tmp_path: Path) -> None:
    f = tmp_path / "dmg.tengo"
    f.write_text('log("computing")\nresult := {damage: attack * 2, raw: bytes("ab")}')
    code, out, _ = cli("exec", str(f), "--input", '{"attack": 21}')
    assert code == 0
    assert out == {
        "ok": True,
        "result": {"damage": 42, "raw": {"$bytes": "YWI="}},
        "logs": ["computing"],
        "metrics": out["metrics"],  # type: ignore[index]
    }
    assert out["metrics"]["runner_us"] > 0  # type: ignore[index]


def test_exec_a_zygomys_file_with_bytes_input(tmp_path: Path) -> None:
    f = tmp_path / "echo.zygomys"
    f.write_text("(def result [n blob])")
    code, out, _ = cli("exec", str(f), "--input", '{"n": 1, "blob": {"$bytes": "AAE="}}')
    assert code == 0
    assert out["result"] == [1, {"$bytes": "AAE="}]  # type: ignore[index]


def test_script_errors_exit_1_with_a_typed_error(tmp_path: Path) -> None:
    f = tmp_path / "loop.tengo"
    f.write_text("for {}")
    code, out, _ = cli("exec", str(f), "--timeout", "0.2")
    assert code == 1
    assert out["ok"] is False  # type: ignore[index]
    assert out["error"]["type"] == "timeout"  # type: ignore[index]
    f.write_text('os := import("os")')
    code, out, _ = cli("exec", str(f))
    assert (code, out["error"]["type"]) == (1, "security_violation")  # type: ignore[index]
    code, out, _ = cli("exec", str(f), "--allow-module", "os")
    assert code == 0


def test_check_reports_syntax_errors_with_position_and_expected_names(tmp_path: Path) -> None:
    f = tmp_path / "bad.tengo"
    f.write_text("a := 1\nb := (a +\n")
    code, out, _ = cli("check", str(f))
    assert code == 1
    assert out["error"]["type"] == "invalid_syntax"  # type: ignore[index]
    assert out["error"]["line"] is not None  # type: ignore[index]
    f.write_text("result := unit.hp * 2")
    code, out, _ = cli("check", str(f))
    assert code == 0
    assert out["result"] is None  # type: ignore[index]
    assert out["logs"] == ["names expected from the context: unit"]  # type: ignore[index]


@pytest.mark.parametrize(
    "args",
    [
        ("exec", "missing.tengo"),
        ("exec", "script.lua"),
        ("exec", "x.tengo", "--timeout", "abc"),
        ("exec", "x.tengo", "--input", "not json"),
        ("exec", "x.tengo", "--input", "[1, 2]"),
        ("frobnicate",),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "x.tengo").write_text("result := 1")
    (tmp_path / "script.lua").write_text("return 1")
    code, _, err = cli(*args, cwd=tmp_path)
    assert code == 2
    assert err.strip()


def test_run_list_and_status_use_the_engine(tmp_path: Path) -> None:
    code, out, _ = cli(
        "--no-hot-reload",
        "run",
        "wargame",
        "event_processor",
        "--input",
        json.dumps(
            {
                "event": {"type": "move", "turn": 2, "unit": {"name": "scout", "side": "blue", "hp": 5, "max_hp": 10}},
                "morale_threshold": 50,
            }
        ),
        cwd=tmp_path,
    )
    assert code == 0, out
    assert out["result"]["actions"] == ["reveal_fog"]  # type: ignore[index]
    code, out, _ = cli("run", "wargame", "nope", cwd=tmp_path)
    assert (code, out["error"]["type"]) == (1, "not_found")  # type: ignore[index]

    code, text, _ = cli("list", cwd=tmp_path)
    assert code == 0
    lines = str(text).splitlines()
    assert lines[0].split() == ["MODULE", "SCRIPT", "LANGUAGE", "SOURCE", "CHECKSUM"]
    assert any(line.split()[:4] == ["wargame", "event_processor", "zygomys", "embedded"] for line in lines)

    code, status, _ = cli("--no-hot-reload", "status", cwd=tmp_path)
    assert code == 0
    assert set(status["languages"]) == {"tengo", "zygomys"}  # type: ignore[index]
    assert all(e["pid"] for e in status["languages"]["tengo"]["executors"])  # type: ignore[index]


def test_config_file_is_structured_into_the_engine(tmp_path: Path) -> None:
    (tmp_path / "goby-script.toml").write_text("hot_reload = false\n[pools]\ntengo = 3\nzygomys = 1\n")
    code, status, _ = cli("status", cwd=tmp_path)
    assert code == 0
    assert status["languages"]["tengo"]["pool_size"] == 3  # type: ignore[index]
    (tmp_path / "bad.toml").write_text("[pools]\nlua = 1\n")
    code, _, err = cli("--config", "bad.toml", "status", cwd=tmp_path)
    assert code == 2
    assert "lua" in err


def test_extract_writes_once_then_skips(tmp_path: Path) -> None:
    code, text, _ = cli("extract", "--dir", "out", cwd=tmp_path)
    assert code == 0
    assert "3 written, 0 skipped" in str(text)
    assert (tmp_path / "out" / "wargame" / "event_processor.zy").exists()
    (tmp_path / "out" / "wargame" / "hit_simulator.tengo").write_text("my edit")
    code, text, _ = cli("extract", "--dir", "out", "--module", "wargame", cwd=tmp_path)
    assert code == 0
    assert "0 written, 3 skipped" in str(text)
    assert (tmp_path / "out" / "wargame" / "hit_simulator.tengo").read_text() == "my edit"
    code, _, err = cli("extract", "--module", "nosuch", cwd=tmp_path)
    assert code == 2 and "nosuch" in err
