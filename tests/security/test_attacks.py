"""The adversarial suite: every file in attacks/ is a script that tries to
break out or exhaust something, with its expected outcome on its first line
(``// expect: <error type>`` or ``// expect: ok <result as JSON>``). Each runs
through a real engine; afterwards the host must be healthy and the next benign
execution in the same language must return the right answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from actors import EngineConfig, ScriptEngine
from engines import ErrorType, Language, ScriptError, ScriptInput, SecurityLimits
from registry.providers import EmbeddedProvider
from tests.conftest import runner_children

pytestmark = pytest.mark.shared_engine

ATTACKS = Path(__file__).parent / "attacks"
FILES = sorted(p for p in ATTACKS.iterdir() if p.suffix in (".tengo", ".zy"))
LIMITS = SecurityLimits(timeout=0.5, memory_mb=32, max_output_bytes=256 << 10)


def expectation(path: Path) -> tuple[str, object]:
    first = path.read_text().splitlines()[0]
    assert first.startswith("// expect: "), f"{path.name}: first line must be // expect: ..."
    word, _, rest = first.removeprefix("// expect: ").partition(" ")
    return word, json.loads(rest) if rest else None


def test_the_suite_is_big_enough() -> None:
    assert len(FILES) >= 40
    assert {p.suffix for p in FILES} == {".tengo", ".zy"}
    for path in FILES:
        word, _ = expectation(path)
        assert word == "ok" or all(ErrorType(w) for w in word.split("|"))


@pytest.fixture(scope="module")
def engine(runner_binary: Path) -> Iterator[ScriptEngine]:
    config = EngineConfig(
        pools={Language.TENGO: 2, Language.ZYGOMYS: 2},
        limits=LIMITS,
        hot_reload=False,
        discover_providers=False,
    )
    providers = [
        EmbeddedProvider("attacks", "tests.security.attacks"),
        EmbeddedProvider("benign", "tests.security.benign"),
    ]
    before = runner_children()
    with ScriptEngine.start(config, providers=providers) as eng:
        eng.register_functions("attacks", {"tick": lambda: 1})
        yield eng
    assert not (runner_children() - before), "stop() left runner processes behind"


def healthy(engine: ScriptEngine, language: Language) -> None:
    """No degraded language, and a benign script answers correctly on the same language."""
    deadline = time.monotonic() + 5
    while True:
        status = engine.status()
        if all(lang.state == "ok" for lang in status.languages.values()):
            break
        assert time.monotonic() < deadline, status.languages
        time.sleep(0.01)
    name = "check_tengo" if language is Language.TENGO else "check_zygomys"
    for n in (1, 21):
        assert engine.execute("benign", name, ScriptInput({"n": n})).result == n * 2


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_attack(engine: ScriptEngine, path: Path) -> None:
    word, expected_result = expectation(path)
    language = Language.from_filename(path)
    host = psutil.Process()
    t0 = time.monotonic()
    if word == "ok":
        out = engine.execute("attacks", path.stem)
        assert out.result == expected_result
    else:
        with pytest.raises(ScriptError) as info:
            engine.execute("attacks", path.stem)
        assert info.value.type in {ErrorType(w) for w in word.split("|")}, info.value
    assert time.monotonic() - t0 < 5, "every attack ends within its limits"
    assert host.is_running()
    healthy(engine, language)


def test_no_state_survives_an_execution(engine: ScriptEngine, tmp_path: Path) -> None:
    import sys

    pkg = tmp_path / "leak_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "plant.zy").write_text("(def planted 42)\n(def result (defined? (quote planted)))")
    (pkg / "probe.zy").write_text("(def result (defined? (quote planted)))")
    (pkg / "plant_t.tengo").write_text("planted := [1]\nresult := len(input)")
    sys.path.insert(0, str(tmp_path))
    engine.register_provider(EmbeddedProvider("leak", "leak_pkg"))
    for _ in range(4):  # both executors of the language see the planting and the probing
        assert engine.execute("leak", "plant").result is True
        assert engine.execute("leak", "probe").result is False
    assert engine.execute("leak", "plant_t", ScriptInput({"a": 1})).result == 1
