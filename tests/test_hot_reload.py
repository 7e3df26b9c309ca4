"""External overrides and hot reload with a real engine and a temporary scripts dir."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actors import EngineConfig, ScriptEngine
from engines import ErrorType, Language, ScriptError, ScriptInput
from registry.providers import EmbeddedProvider
from registry.registry import ReloadEvent

EMBEDDED = {
    "calc.tengo": 'result := {who: "embedded", value: x * 2}',
    "greet.zy": '(def result (hash who: "embedded" value: (concat "hi " name)))',
}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedProvider:
    import sys

    root = tmp_path_factory.mktemp("embedded")
    pkg = root / "reload_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in EMBEDDED.items():
        (pkg / name).write_text(text)
    sys.path.insert(0, str(root))
    return EmbeddedProvider("demo", "reload_pkg")


class Events:
    """Collects reload events; wait() for one that matches."""

    def __init__(self) -> None:
        self.items: list[ReloadEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: ReloadEvent) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait(self, predicate: Callable[[ReloadEvent], bool], timeout: float = 5.0) -> ReloadEvent:
        deadline = time.monotonic() + timeout
        with self._cond:
            start = 0
            while True:
                for event in self.items[start:]:
                    if predicate(event):
                        return event
                start = len(self.items)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching reload event; got {self.items}")
                self._cond.wait(remaining)

    def clear(self) -> None:
        with self._cond:
            self.items.clear()


@pytest.fixture
def scripts_dir(tmp_path: Path) -> Path:
    d = tmp_path / "scripts"
    d.mkdir()
    return d


@pytest.fixture
def engine(scripts_dir: Path, provider: EmbeddedProvider) -> Iterator[tuple[ScriptEngine, Events]]:
    config = EngineConfig(
        pools={Language.TENGO: 1, Language.ZYGOMYS: 1},
        scripts_dir=scripts_dir,
        hot_reload=True,
        discover_providers=False,
    )
    events = Events()
    with ScriptEngine.start(config, providers=[provider]) as eng:
        eng.subscribe_reloads(events)
        yield eng, events


def calc(engine: ScriptEngine, x: int = 21) -> object:
    return engine.execute("demo", "calc", ScriptInput({"x": x})).result


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def is_(outcome: str, name: str = "calc") -> Callable[[ReloadEvent], bool]:
    return lambda e: e.outcome == outcome and e.name == name


def test_extract_edit_break_fix_delete(engine: tuple[ScriptEngine, Events], scripts_dir: Path) -> None:
    eng, events = engine
    assert calc(eng) == {"who": "embedded", "value": 42}
    results = eng.extract(scripts_dir)
    assert sorted(r.outcome for r in results) == ["written", "written"]
    target = scripts_dir / "demo" / "calc.tengo"
    assert target.read_text() == EMBEDDED["calc.tengo"]

    events.wait(is_("activated"))  # the extracted copy is now the active (external) version
    events.wait(is_("activated", "greet"))
    assert calc(eng) == {"who": "embedded", "value": 42}

    events.clear()
    write(target, 'result := {who: "edited", value: x * 3}')
    events.wait(is_("activated"))
    assert calc(eng) == {"who": "edited", "value": 63}

    events.clear()
    write(target, 'result := {who: "broken", value: x * 3\n')
    rejected = events.wait(is_("rejected"))
    assert rejected.error_type == "invalid_syntax"
    assert rejected.line is not None
    assert calc(eng) == {"who": "edited", "value": 63}, "the previous good version stays"
    status = {(s.module, s.name): s for s in eng.status().scripts}[("demo", "calc")]
    assert status.source == "external"
    assert status.last_reload is not None and status.last_reload.outcome == "rejected"

    events.clear()
    write(target, 'result := {who: "fixed", value: x}')
    events.wait(is_("activated"))
    assert calc(eng) == {"who": "fixed", "value": 21}

    events.clear()
    target.unlink()
    reverted = events.wait(is_("reverted"))
    assert reverted.active_source == "embedded"
    assert calc(eng) == {"who": "embedded", "value": 42}

    again = eng.extract(scripts_dir)
    assert {r.outcome for r in again} == {"written", "skipped"}


def test_cross_language_override_and_back(engine: tuple[ScriptEngine, Events], scripts_dir: Path) -> None:
    eng, events = engine
    zy = scripts_dir / "demo" / "calc.zy"
    write(zy, '(def result (hash who: "zygomys" value: (* x 10)))')
    events.wait(is_("activated"))
    assert calc(eng) == {"who": "zygomys", "value": 210}
    assert {(s.module, s.name): s for s in eng.status().scripts}[("demo", "calc")].language == "zygomys"

    greet = scripts_dir / "demo" / "greet.tengo"
    write(greet, 'result := {who: "tengo", value: "hello " + name}')
    events.wait(is_("activated", "greet"))
    assert eng.execute("demo", "greet", ScriptInput({"name": "x"})).result == {"who": "tengo", "value": "hello x"}

    events.clear()
    zy.unlink()
    events.wait(is_("reverted"))
    assert calc(eng) == {"who": "embedded", "value": 42}


def test_an_ambiguous_pair_activates_neither(engine: tuple[ScriptEngine, Events], scripts_dir: Path) -> None:
    eng, events = engine
    write(scripts_dir / "demo" / "calc.tengo", 'result := {who: "one", value: 1}')
    events.wait(is_("activated"))
    events.clear()
    write(scripts_dir / "demo" / "calc.zy", '(def result (hash who: "two" value: 2))')
    event = events.wait(is_("ambiguous"))
    assert "calc.tengo" in (event.message or "") and "calc.zy" in (event.message or "")
    assert calc(eng) == {"who": "one", "value": 1}
    events.clear()
    (scripts_dir / "demo" / "calc.tengo").unlink()
    events.wait(is_("activated"))
    assert calc(eng) == {"who": "two", "value": 2}


def test_atomic_rename_saves(engine: tuple[ScriptEngine, Events], scripts_dir: Path) -> None:
    eng, events = engine
    target = scripts_dir / "demo" / "calc.tengo"
    target.parent.mkdir()
    for i in range(3):
        events.clear()
        tmp = scripts_dir / "demo" / f".calc.tengo.tmp{i}"
        tmp.write_text(f'result := {{who: "renamed", value: {i}}}')
        os.replace(tmp, target)
        events.wait(lambda e, i=i: e.outcome == "activated" and calc(eng) == {"who": "renamed", "value": i})


def test_a_burst_of_writes_activates_exactly_the_last(engine: tuple[ScriptEngine, Events], scripts_dir: Path) -> None:
    eng, events = engine
    target = scripts_dir / "demo" / "calc.tengo"
    target.parent.mkdir()
    for i in range(20):
        target.write_text(f'result := {{who: "burst", value: {i}}}')
        time.sleep(0.005)
    events.wait(lambda e: e.outcome == "activated" and calc(eng) == {"who": "burst", "value": 19})
    time.sleep(0.3)
    assert calc(eng) == {"who": "burst", "value": 19}
    activated = [e for e in events.items if e.outcome == "activated"]
    assert (
        activated[-1].active_checksum
        == {(s.module, s.name): s for s in eng.status().scripts}[("demo", "calc")].checksum
    )


def test_symlink_escape_and_oversize_are_rejected(
    engine: tuple[ScriptEngine, Events], scripts_dir: Path, tmp_path: Path
) -> None:
    eng, events = engine
    secret = tmp_path / "secret.tengo"
    secret.write_text('result := {who: "secret", value: 0}')
    (scripts_dir / "demo").mkdir(exist_ok=True)
    (scripts_dir / "demo" / "calc.tengo").symlink_to(secret)
    event = events.wait(is_("rejected"))
    assert "outside the scripts directory" in (event.message or "")
    assert calc(eng) == {"who": "embedded", "value": 42}

    write(scripts_dir / "demo" / "greet.zy", ";" + "x" * (300 * 1024))
    event = events.wait(is_("rejected", "greet"))
    assert "byte limit" in (event.message or "")


def test_a_new_module_directory_is_picked_up(engine: tuple[ScriptEngine, Events], scripts_dir: Path) -> None:
    eng, events = engine
    write(scripts_dir / "fresh" / "brand_new.tengo", "result := 7")
    events.wait(lambda e: e.module == "fresh" and e.outcome == "activated")
    assert eng.execute("fresh", "brand_new").result == 7
    (scripts_dir / "fresh" / "brand_new.tengo").unlink()
    events.wait(lambda e: e.module == "fresh" and e.outcome == "removed")
    with pytest.raises(ScriptError) as info:
        eng.execute("fresh", "brand_new")
    assert info.value.type is ErrorType.NOT_FOUND


def test_startup_validates_existing_files(scripts_dir: Path, provider: EmbeddedProvider) -> None:
    write(scripts_dir / "demo" / "calc.tengo", "result := (\n")
    write(scripts_dir / "demo" / "greet.zy", '(def result (hash who: "disk" value: name))')
    config = EngineConfig(
        pools={Language.TENGO: 1, Language.ZYGOMYS: 1},
        scripts_dir=scripts_dir,
        hot_reload=False,
        discover_providers=False,
    )
    with ScriptEngine.start(config, providers=[provider]) as eng:
        status = eng.status()
        reloads = {(r.module, r.name): r for r in status.reloads}
        assert reloads[("demo", "calc")].outcome == "rejected"
        assert reloads[("demo", "greet")].outcome == "activated"
        assert calc(eng) == {"who": "embedded", "value": 42}
        assert eng.execute("demo", "greet", ScriptInput({"name": "n"})).result == {"who": "disk", "value": "n"}


def test_executions_never_fail_because_of_a_reload(engine: tuple[ScriptEngine, Events], scripts_dir: Path) -> None:
    eng, events = engine
    stop = threading.Event()
    failures: list[BaseException] = []
    seen: set[str] = set()

    def hammer() -> None:
        while not stop.is_set():
            try:
                seen.add(str(calc(eng)["who"]))  # type: ignore[index]
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    target = scripts_dir / "demo" / "calc.tengo"
    try:
        for i in range(6):
            events.clear()
            write(target, f'result := {{who: "v{i}", value: x}}')
            events.wait(is_("activated"))
            write(target, "result := broken(\n")
            events.wait(is_("rejected"))
        events.clear()
        target.unlink()
        events.wait(is_("reverted"))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert {"v0", "v5", "embedded"} <= seen
