"""The actor runtime with real runners: facade, actor messages, pools, crashes, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from actors import EngineConfig, Execute, GetStatus, RegisterProvider, ScriptEngine
from actors.config import config_from_dict
from engines import ErrorType, Language, ScriptError, ScriptInput, SecurityLimits
from registry.providers import EmbeddedProvider

KNIGHT = {"name": "knight", "attack": 12, "accuracy": 80, "shots": 3, "crit_chance": 0.1, "side": "blue"}
ORC = {"name": "orc", "defense": 9, "hp": 60, "max_hp": 60, "evasion": 20, "cover": "light", "side": "red"}
SWORD = {"name": "sword", "power": 4, "armor_piercing": 0.25, "effective_range": 2}

INPUTS = {
    "damage_calculator": ScriptInput(context={"attacker": KNIGHT, "target": ORC, "weapon": SWORD}),
    "hit_simulator": ScriptInput(context={"attacker": KNIGHT, "target": ORC, "weapon": SWORD, "distance": 12}),
    "event_processor": ScriptInput(
        context={
            "event": {"type": "attack", "turn": 1, "damage": 45, "unit": {**ORC, "hp": 20}},
            "morale_threshold": 50,
        }
    ),
}


def check_wargame_result(name: str, result: dict[str, object]) -> None:
    if name == "damage_calculator":
        assert isinstance(result["damage"], int) and result["damage"] >= 1
        assert result["target_hp"] == max(0, 60 - result["damage"])
    elif name == "hit_simulator":
        assert result["hits"] + result["missed"] == 3
        assert len(result["rolls"]) == 3
        assert result["hit_chance"] == 80 - 20 - (12 - 2) // 10 - 10  # accuracy, evasion, range, light cover
    else:
        assert result["severity"] == "critical"
        assert result["actions"] == ["morale_check", "alert_commander"]
        assert result["topic"] == "wargame.red.events"


@pytest.fixture(scope="module")
def engine(runner_binary: Path) -> Iterator[ScriptEngine]:
    config = EngineConfig(pools={Language.TENGO: 2, Language.ZYGOMYS: 2}, hot_reload=False)
    with ScriptEngine.start(config) as eng:
        yield eng


def test_the_wargame_scripts_are_discovered_from_the_entry_point(engine: ScriptEngine) -> None:
    scripts = {(s.module, s.name): s for s in engine.status().scripts}
    assert {("wargame", "damage_calculator"), ("wargame", "hit_simulator"), ("wargame", "event_processor")} <= set(
        scripts
    )
    assert scripts[("wargame", "event_processor")].language == "zygomys"
    assert all(s.source == "embedded" and len(s.checksum) == 64 for s in scripts.values())


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_each_wargame_script_runs_by_name(engine: ScriptEngine, name: str) -> None:
    out = engine.execute("wargame", name, INPUTS[name])
    check_wargame_result(name, out.result)
    assert out.logs, "the wargame scripts log what they do"


def test_many_threads_through_the_facade_and_actor_messages(engine: ScriptEngine) -> None:
    names = sorted(INPUTS)

    def via_facade(i: int) -> tuple[str, object]:
        name = names[i % 3]
        return name, engine.execute("wargame", name, INPUTS[name]).result

    def via_message(i: int) -> tuple[str, object]:
        name = names[i % 3]
        future = engine.supervisor.ask(Execute("wargame", name, INPUTS[name]))
        return name, future.get(timeout=10).result

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(via_facade, range(90))) + list(pool.map(via_message, range(90)))
    assert len(results) == 180
    for name, result in results:
        check_wargame_result(name, result)  # type: ignore[arg-type]


def test_async_execution_is_a_future_and_awaitable(engine: ScriptEngine) -> None:
    fut = engine.execute_async("wargame", "event_processor", INPUTS["event_processor"])
    check_wargame_result("event_processor", fut.get(timeout=5).result)

    async def main() -> list[object]:
        futures = [engine.execute_async("wargame", n, INPUTS[n]) for n in sorted(INPUTS)]
        return [(await f).result for f in futures]

    results = asyncio.run(main())
    for name, result in zip(sorted(INPUTS), results, strict=True):
        check_wargame_result(name, result)  # type: ignore[arg-type]


def test_unknown_scripts_are_not_found(engine: ScriptEngine) -> None:
    with pytest.raises(ScriptError) as info:
        engine.execute("wargame", "nope")
    assert info.value.type is ErrorType.NOT_FOUND
    assert "damage_calculator" in info.value.message
    fut = engine.execute_async("nomodule", "x")
    with pytest.raises(ScriptError):
        fut.get(timeout=1)


def test_status_is_json_ready_and_counts(engine: ScriptEngine) -> None:
    before = {(s.module, s.name): s for s in engine.status().scripts}[("wargame", "hit_simulator")]
    engine.execute("wargame", "hit_simulator", INPUTS["hit_simulator"])
    status = engine.supervisor.ask(GetStatus())
    after = {(s.module, s.name): s for s in status.scripts}[("wargame", "hit_simulator")]
    assert after.executions == before.executions + 1
    assert after.successes == before.successes + 1
    doc = status.to_dict()
    import json

    json.dumps(doc)
    tengo = doc["languages"]["tengo"]
    assert tengo["pool_size"] == 2 and tengo["state"] == "ok"
    for ex in tengo["executors"]:
        assert ex["pid"] and ex["state"] in ("idle", "busy") and ex["rss_bytes"] > 0


def make_provider(tmp_path: Path, module: str, files: dict[str, str]) -> EmbeddedProvider:
    """A provider backed by a real package on sys.path."""
    import sys

    pkg = tmp_path / f"pkg_{module}"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in files.items():
        (pkg / name).write_text(text)
    if str(tmp_path) not in sys.path:
        sys.path.insert(0, str(tmp_path))
    return EmbeddedProvider(module=module, package=f"pkg_{module}")


def test_submit_of_a_failing_script_never_raises_and_is_counted(engine: ScriptEngine, tmp_path: Path) -> None:
    engine.register_provider(make_provider(tmp_path, "faulty", {"boom.tengo": "result := 1 / zero"}))
    for _ in range(3):
        engine.submit("faulty", "boom", ScriptInput({"zero": 0}))
    engine.submit("faulty", "does_not_exist")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        st = {(s.module, s.name): s for s in engine.status().scripts}[("faulty", "boom")]
        if st.executions == 3:
            break
        time.sleep(0.02)
    assert st.executions == 3 and st.successes == 0
    assert st.failures == {"execution": 3}
    assert engine.status().rejected.get("not_found", 0) >= 1


def test_register_provider_by_message(engine: ScriptEngine, tmp_path: Path) -> None:
    provider = make_provider(tmp_path, "msgmod", {"hello.zy": '(def result (concat "hi " who))'})
    assert engine.supervisor.ask(RegisterProvider(provider)) == ["hello"]
    assert engine.execute("msgmod", "hello", ScriptInput({"who": "there"})).result == "hi there"


def test_host_functions_declared_by_a_module(engine: ScriptEngine, tmp_path: Path) -> None:
    engine.register_provider(
        make_provider(tmp_path, "dice", {"roll.tengo": "result := roll(6)", "other.tengo": "result := roll(6)"})
    )
    engine.register_functions("dice", {"roll": lambda sides: sides}, scripts=["roll"])
    assert engine.execute("dice", "roll").result == 6
    with pytest.raises(ScriptError) as info:
        engine.execute("dice", "other")
    assert info.value.type is ErrorType.COMPILATION  # not declared for that script: an unknown name


# --- engines of their own: these tests break or stop them ---------------------


def slow_and_quick(tmp_path: Path) -> EmbeddedProvider:
    return make_provider(
        tmp_path,
        "timing",
        {
            "slow.tengo": 'times := import("times")\ntimes.sleep(2 * times.second)\nresult := "slow"',
            "quick.tengo": "result := n * 2",
            "spin.zy": "(def s 0)\n(for [(def i 0) (< i 5000) (set i (+ i 1))] (set s (+ s i)))\n(def result s)",
        },
    )


def test_no_head_of_line_blocking_behind_a_slow_script(runner_binary: Path, tmp_path: Path) -> None:
    config = EngineConfig(pools={Language.TENGO: 2, Language.ZYGOMYS: 1}, hot_reload=False)
    with ScriptEngine.start(config, providers=[slow_and_quick(tmp_path)]) as engine:
        slow = engine.execute_async("timing", "slow", timeout=5)
        t0 = time.monotonic()
        quick = [engine.execute_async("timing", "quick", ScriptInput({"n": i})) for i in range(100)]
        assert [f.get(timeout=5).result for f in quick] == [i * 2 for i in range(100)]
        quick_done = time.monotonic() - t0
        assert not slow.done(), "the slow script is still running"
        assert slow.get(timeout=5).result == "slow"
        assert quick_done < 2.0


def test_a_full_queue_is_overloaded_at_once(runner_binary: Path, tmp_path: Path) -> None:
    config = EngineConfig(pools={Language.TENGO: 1, Language.ZYGOMYS: 1}, queue_size=2, hot_reload=False)
    with ScriptEngine.start(config, providers=[slow_and_quick(tmp_path)]) as engine:
        engine.execute_async("timing", "slow", timeout=5)
        queued = [engine.execute_async("timing", "quick", ScriptInput({"n": i})) for i in range(2)]
        t0 = time.monotonic()
        with pytest.raises(ScriptError) as info:
            engine.execute("timing", "quick", ScriptInput({"n": 9}))
        assert info.value.type is ErrorType.OVERLOADED
        assert time.monotonic() - t0 < 0.5
        assert engine.status().languages["tengo"].queue_depth == 2
        assert [f.get(timeout=5).result for f in queued] == [0, 2]


def runner_descendants() -> set[int]:
    return {c.pid for c in psutil.Process().children(recursive=True) if "goby-runner" in c.name()}


def test_sigkill_while_200_executions_are_in_flight(runner_binary: Path, tmp_path: Path) -> None:
    config = EngineConfig(pools={Language.TENGO: 1, Language.ZYGOMYS: 2}, hot_reload=False)
    with ScriptEngine.start(config, providers=[slow_and_quick(tmp_path)]) as engine:
        before = engine.status().languages["zygomys"].executors
        victim = before[0]
        futures = [engine.execute_async("timing", "spin") for _ in range(200)]
        time.sleep(0.05)
        os.kill(victim.pid, signal.SIGKILL)
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.get(timeout=30).result)
            except ScriptError as err:
                outcomes.append(err.type)
        assert len(outcomes) == 200
        assert all(o == sum(range(5000)) or isinstance(o, ErrorType) for o in outcomes)
        crashed = [o for o in outcomes if o is ErrorType.RUNNER_CRASHED]
        assert 1 <= len(crashed) <= 1
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            now = engine.status().languages["zygomys"].executors[0]
            if now.pid not in (None, victim.pid) and now.state == "idle":
                break
            time.sleep(0.01)
        assert now.pid not in (None, victim.pid)
        assert now.restarts == victim.restarts + 1
        assert "SIGKILL" in (now.last_exit_reason or "")
        assert engine.execute("timing", "quick", ScriptInput({"n": 4})).result == 8


def test_repeated_crashes_degrade_a_language_which_then_fails_fast(runner_binary: Path, tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "pools": {"tengo": 1, "zygomys": 1},
            "hot_reload": False,
            "restart_intensity": {"max_restarts": 2, "within_seconds": 30},
        }
    )
    with ScriptEngine.start(config, providers=[slow_and_quick(tmp_path)]) as engine:
        for _ in range(3):
            pid = engine.status().languages["tengo"].executors[0].pid
            assert pid is not None
            fut = engine.execute_async("timing", "slow", timeout=5)
            time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(ScriptError):
                fut.get(timeout=5)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and engine.status().languages["tengo"].executors[0].pid in (pid, None):
                if engine.status().languages["tengo"].state == "degraded":
                    break
                time.sleep(0.01)
        status = engine.status().languages["tengo"]
        assert status.state == "degraded"
        t0 = time.monotonic()
        with pytest.raises(ScriptError) as info:
            engine.execute("timing", "quick", ScriptInput({"n": 1}))
        assert info.value.type is ErrorType.RUNNER_CRASHED
        assert time.monotonic() - t0 < 0.1
        # the other language is unaffected
        assert engine.execute("timing", "spin").result == sum(range(5000))


def test_stop_finishes_in_flight_refuses_queued_and_leaves_no_process(runner_binary: Path, tmp_path: Path) -> None:
    config = EngineConfig(pools={Language.TENGO: 1, Language.ZYGOMYS: 1}, hot_reload=False)
    engine = ScriptEngine.start(config, providers=[slow_and_quick(tmp_path)])
    pids = {e.pid for lang in engine.status().languages.values() for e in lang.executors}
    assert pids <= runner_descendants()
    in_flight = engine.execute_async("timing", "slow", timeout=5)
    time.sleep(0.1)
    queued = engine.execute_async("timing", "quick", ScriptInput({"n": 1}))
    stopper = threading.Thread(target=engine.stop)
    stopper.start()
    with pytest.raises(ScriptError) as info:
        queued.get(timeout=5)
    assert info.value.type is ErrorType.SHUTTING_DOWN
    assert in_flight.get(timeout=5).result == "slow"
    stopper.join(10)
    assert not stopper.is_alive()
    assert not (pids & runner_descendants())
    with pytest.raises(ScriptError) as info:
        engine.execute("timing", "quick", ScriptInput({"n": 1}))
    assert info.value.type is ErrorType.SHUTTING_DOWN


def test_limits_from_the_config_apply(runner_binary: Path, tmp_path: Path) -> None:
    config = EngineConfig(
        pools={Language.TENGO: 1, Language.ZYGOMYS: 1}, limits=SecurityLimits(timeout=0.2), hot_reload=False
    )
    with ScriptEngine.start(config, providers=[slow_and_quick(tmp_path)]) as engine:
        t0 = time.monotonic()
        with pytest.raises(ScriptError) as info:
            engine.execute("timing", "slow")
        assert info.value.type is ErrorType.TIMEOUT
        assert time.monotonic() - t0 < 1.0
        assert engine.execute("timing", "quick", ScriptInput({"n": 2})).result == 4


def test_an_executor_actor_that_dies_is_replaced(runner_binary: Path, tmp_path: Path) -> None:
    from actors.messages import RunJob
    from actors.pool import AsyncJob

    config = EngineConfig(pools={Language.TENGO: 1, Language.ZYGOMYS: 1}, hot_reload=False)
    with ScriptEngine.start(config, providers=[slow_and_quick(tmp_path)]) as engine:
        old = engine._dispatcher.pools[Language.TENGO].slots[0].actor
        assert old is not None and old.is_alive()

        def explode(slot: object) -> None:
            raise RuntimeError("bug in a job")

        old.tell(RunJob(AsyncJob(run=explode, fail=lambda err: None)))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and old.is_alive():
            time.sleep(0.01)
        assert not old.is_alive()
        while time.monotonic() < deadline:
            if engine.status().languages["tengo"].executors[0].state == "idle":
                break
            time.sleep(0.01)
        assert engine.execute("timing", "quick", ScriptInput({"n": 5})).result == 10
        assert [engine.execute("timing", "quick", ScriptInput({"n": i})).result for i in range(5)] == [0, 2, 4, 6, 8]
