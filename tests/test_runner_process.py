"""RunnerProcess against the real goby-runner: both languages, limits, crashes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from engines import (
    ErrorType,
    Language,
    RunnerProcess,
    Script,
    ScriptError,
    ScriptInput,
    SecurityLimits,
    Whitelist,
)

TENGO = Language.TENGO
ZY = Language.ZYGOMYS


def script(language: Language, source: str, name: str = "t") -> Script:
    return Script(module="test", name=name, language=language, source=source)


def fails(runner: RunnerProcess, s: Script, inp: ScriptInput | None = None, **kw: object) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        runner.execute(s, inp, **kw)  # type: ignore[arg-type]
    return info.value


def ok(runner: RunnerProcess) -> None:
    """The runner still answers correctly in both languages."""
    assert runner.execute(script(TENGO, "result := a * 2"), ScriptInput({"a": 21})).result == 42
    assert runner.execute(script(ZY, "(def result (* a 2))"), ScriptInput({"a": 21})).result == 42


# --- basics -----------------------------------------------------------------


def test_hello_names_both_languages(runner: RunnerProcess) -> None:
    assert runner.hello is not None
    assert set(runner.hello.languages) == {"tengo", "zygomys"}
    assert runner.pid is not None


def test_context_keys_input_message_and_http_are_globals(runner: RunnerProcess) -> None:
    inp = ScriptInput(context={"unit": {"hp": 10}, "n": 2}, message={"topic": "t"}, http={"path": "/x"})
    out = runner.execute(script(TENGO, "result := [unit.hp * n, input.n, message.topic, http.path]"), inp)
    assert out.result == [20, 2, "t", "/x"]
    out = runner.execute(
        script(ZY, '(def result [(* (hget unit "hp") n) (hget input "n") (hget message "topic") (hget http "path")])'),
        inp,
    )
    assert out.result == [20, 2, "t", "/x"]


def test_message_and_http_are_nil_when_absent(runner: RunnerProcess) -> None:
    assert runner.execute(script(TENGO, "result := is_undefined(message)")).result is True
    assert runner.execute(script(ZY, "(def result (null? message))")).result is True


def test_zygomys_answers_with_its_last_expression_without_result(runner: RunnerProcess) -> None:
    assert runner.execute(script(ZY, "(+ 1 2)")).result == 3


def test_log_is_captured_in_both_languages(runner: RunnerProcess) -> None:
    out = runner.execute(script(TENGO, 'log("hit", 3, "times")\nfmt := import("fmt")\nfmt.println("via fmt")'))
    assert out.logs == ["hit 3 times", "via fmt"]
    out = runner.execute(script(ZY, '(log "hit" 3 "times")\n(println "via println")'))
    assert out.logs == ["hit 3 times", "via println"]


def test_metrics_come_from_the_runner(runner: RunnerProcess) -> None:
    out = runner.execute(script(TENGO, "s := 0\nfor i := 0; i < 10000; i++ { s += i }\nresult := s"))
    assert out.result == sum(range(10000))
    assert out.metrics.runner_us > 0
    assert out.metrics.duration_ms * 1000 >= out.metrics.runner_us


def test_programs_are_compiled_once_per_checksum(runner: RunnerProcess) -> None:
    s = script(TENGO, "result := x + 1")
    first = runner.load(s)
    assert first.free == ("x",)
    assert runner.load(s).cached
    for i in range(5):
        assert runner.execute(s, ScriptInput({"x": i})).result == i + 1
    assert runner.stats().programs == 1


def test_host_functions_are_called_by_name(runner: RunnerProcess) -> None:
    calls: list[tuple[object, ...]] = []

    def roll(sides: int) -> int:
        calls.append((sides,))
        return sides - 1

    def boom() -> None:
        raise RuntimeError("dice lost")

    fns = {"roll": roll, "boom": boom}
    assert runner.execute(script(TENGO, "result := roll(6) + roll(20)"), functions=fns).result == 24
    assert runner.execute(script(ZY, "(def result (+ (roll 6) (roll 20)))"), functions=fns).result == 24
    assert calls == [(6,), (20,), (6,), (20,)]
    for lang, src in ((TENGO, "result := boom()"), (ZY, "(boom)")):
        err = fails(runner, script(lang, src), functions=fns)
        assert err.type is ErrorType.EXECUTION
        assert "dice lost" in err.message
    ok(runner)


def test_a_host_function_returning_an_unsupported_value_fails_the_execution(runner: RunnerProcess) -> None:
    err = fails(runner, script(TENGO, "result := bad()"), functions={"bad": lambda: {1, 2}})
    assert err.type is ErrorType.EXECUTION
    assert "bad()" in err.message


# --- errors with positions ---------------------------------------------------


def test_syntax_errors_have_a_line(runner: RunnerProcess) -> None:
    err = fails(runner, script(TENGO, "a := 1\nb := (2 +\n"))
    assert err.type is ErrorType.INVALID_SYNTAX
    assert err.line is not None
    err = fails(runner, script(ZY, "(def a 1)\n(def b (+ 2 3)\n"))
    assert err.type is ErrorType.INVALID_SYNTAX


def test_a_typo_is_compilation_with_its_line(runner: RunnerProcess) -> None:
    err = fails(runner, script(TENGO, "a := 1\nresult := lenn([1, 2])\n"))
    assert err.type is ErrorType.COMPILATION
    assert "lenn" in err.message
    assert (err.line, err.column) == (2, 11)
    assert err.module == "test"
    err = fails(runner, script(ZY, "(def a 1)\n(def result (lenn [1 2]))\n"))
    assert err.type is ErrorType.COMPILATION
    assert "lenn" in err.message
    assert err.line == 2


def test_runtime_errors_are_execution_errors_with_a_line(runner: RunnerProcess) -> None:
    err = fails(runner, script(TENGO, "a := 1\nresult := a[0]\n"))
    assert err.type is ErrorType.EXECUTION
    assert err.line == 2
    err = fails(runner, script(ZY, '(def result (+ 1 "a"))'))
    assert err.type is ErrorType.EXECUTION


def test_forbidden_names_are_security_violations(runner: RunnerProcess) -> None:
    err = fails(runner, script(TENGO, 'os := import("os")\nresult := os.getenv("HOME")'))
    assert err.type is ErrorType.SECURITY_VIOLATION
    assert "os" in err.message
    assert err.line == 1
    err = fails(runner, script(ZY, '(system "ls")'))
    assert err.type is ErrorType.SECURITY_VIOLATION
    assert "system" in err.message
    err = fails(runner, script(ZY, '(include "/etc/passwd")'))
    assert err.type is ErrorType.SECURITY_VIOLATION


def test_whitelist_widening_allows_a_module(runner: RunnerProcess) -> None:
    wide = Whitelist(tengo_modules=frozenset({"os"}))
    out = runner.execute(script(TENGO, 'os := import("os")\nresult := os.getwd()'), whitelist=wide)
    assert isinstance(out.result, str)


def test_a_tengo_error_value_as_result_is_an_execution_error(runner: RunnerProcess) -> None:
    err = fails(runner, script(TENGO, 'result := error("out of ammo")'))
    assert err.type is ErrorType.EXECUTION
    assert "out of ammo" in err.message


# --- values the host cannot take or give ------------------------------------


@pytest.mark.parametrize("bad", [{1, 2}, object(), {"k": {"n": 1 << 70}}])
def test_unsupported_input_is_invalid_input(runner: RunnerProcess, bad: object) -> None:
    err = fails(runner, script(TENGO, "result := 1"), ScriptInput({"x": bad}))
    assert err.type is ErrorType.INVALID_INPUT
    assert "context.x" in err.message
    ok(runner)


def test_unrepresentable_results_are_invalid_input(runner: RunnerProcess) -> None:
    err = fails(runner, script(TENGO, "result := {f: func() { return 1 }}"))
    assert err.type is ErrorType.INVALID_INPUT
    assert "result.f" in err.message
    err = fails(runner, script(ZY, "(def result (hash f: (fn [] 1)))"))
    assert err.type is ErrorType.INVALID_INPUT
    ok(runner)


# --- limits -------------------------------------------------------------------

FAST = SecurityLimits(timeout=0.2)


@pytest.mark.parametrize(
    ("language", "source"),
    [
        (TENGO, "for {}"),
        (TENGO, "f := func(n) { return f(n) + 1 }\nfor { x := 1 }"),
        (ZY, "(def i 0)\n(for [(def i 0) true (set i (+ i 1))] ())"),
        (ZY, "(for [(def i 0) true (set i 1)] ())"),
    ],
)
def test_an_infinite_loop_times_out_quickly_and_the_runner_goes_on(
    runner: RunnerProcess, language: Language, source: str
) -> None:
    t0 = time.monotonic()
    err = fails(runner, script(language, source), limits=FAST)
    elapsed = time.monotonic() - t0
    assert err.type is ErrorType.TIMEOUT
    assert elapsed < 1.0
    ok(runner)


@pytest.mark.parametrize(
    ("language", "source"),
    [
        (TENGO, 's := "xxxxxxxxxxxxxxxx"\nfor { s = s + s }'),
        (TENGO, "a := []\nfor { a = append(a, [1,2,3,4,5,6,7,8]) }"),
        (ZY, '(def s "xxxxxxxxxxxxxxxx")\n(for [(def i 0) true (set i 1)] (set s (concat s s)))'),
        (ZY, "(def a [])\n(for [(def i 0) true (set i (+ i 1))] (set a (append a [1 2 3 4 5 6 7 8])))"),
    ],
)
def test_a_memory_bomb_is_memory_limit(runner: RunnerProcess, language: Language, source: str) -> None:
    err = fails(runner, script(language, source), limits=SecurityLimits(timeout=5, memory_mb=32))
    assert err.type is ErrorType.MEMORY_LIMIT
    ok(runner)


def test_cpu_limit_is_its_own_error(runner: RunnerProcess) -> None:
    err = fails(runner, script(TENGO, "for {}"), limits=SecurityLimits(timeout=5, cpu_time=0.1))
    assert err.type is ErrorType.CPU_LIMIT
    ok(runner)


def test_output_log_and_call_limits(runner: RunnerProcess) -> None:
    big = script(TENGO, 'result := ""\nfor i := 0; i < 2000; i++ { result += "0123456789" }')
    assert fails(runner, big, limits=SecurityLimits(max_output_bytes=1000)).type is ErrorType.OUTPUT_LIMIT
    chatty = script(ZY, '(for [(def i 0) (< i 100) (set i (+ i 1))] (log "line" i))')
    assert fails(runner, chatty, limits=SecurityLimits(max_log_lines=10)).type is ErrorType.LOG_LIMIT
    calls = script(TENGO, "for i := 0; i < 100; i++ { f() }")
    err = fails(runner, calls, limits=SecurityLimits(max_host_calls=5), functions={"f": lambda: 1})
    assert err.type is ErrorType.CALL_LIMIT
    ok(runner)


def test_a_hung_host_function_gets_the_runner_killed_at_the_deadline(runner_binary: Path) -> None:
    with RunnerProcess(binary=runner_binary, grace=0.2) as runner:
        t0 = time.monotonic()
        err = fails(runner, script(TENGO, "result := slow()"), limits=FAST, functions={"slow": lambda: time.sleep(1.5)})
        assert err.type is ErrorType.TIMEOUT
        assert time.monotonic() - t0 < 2.0
        ok(runner)


# --- crashes --------------------------------------------------------------------


@pytest.mark.parametrize("language", [TENGO, ZY])
def test_sigkill_mid_execution_is_runner_crashed_and_the_next_call_works(
    runner: RunnerProcess, language: Language
) -> None:
    pid = runner.pid
    assert pid is not None
    source = "for {}" if language is TENGO else "(for [(def i 0) true (set i 1)] ())"
    threading.Timer(0.2, os.kill, (pid, signal.SIGKILL)).start()
    err = fails(runner, script(language, source), limits=SecurityLimits(timeout=3))
    assert err.type is ErrorType.RUNNER_CRASHED
    assert "SIGKILL" in err.message
    assert runner.last_exit_reason == "killed by SIGKILL"
    ok(runner)
    assert runner.pid not in (None, pid)
    assert runner.restarts == 1


def test_the_runner_lives_in_an_empty_private_directory_with_an_empty_environment(runner: RunnerProcess) -> None:
    proc = psutil.Process(runner.pid)
    assert proc.environ() == {}
    cwd = Path(proc.cwd())
    assert cwd.name.startswith("goby-runner-")
    assert list(cwd.iterdir()) == []
    assert oct(cwd.stat().st_mode & 0o777) == "0o700"


def test_stop_leaves_no_process_and_no_directory(runner_binary: Path) -> None:
    runner = RunnerProcess(binary=runner_binary)
    runner.start()
    proc = psutil.Process(runner.pid)
    cwd = proc.cwd()
    runner.stop()
    assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    assert not Path(cwd).exists()
    assert runner.pid is None


def test_concurrent_callers_are_serialised(runner: RunnerProcess) -> None:
    s = script(TENGO, "result := n * n")
    results: dict[int, object] = {}

    def call(n: int) -> None:
        results[n] = runner.execute(s, ScriptInput({"n": n})).result

    threads = [threading.Thread(target=call, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {n: n * n for n in range(16)}


def test_goby_runner_overrides_the_bundled_binary(
    runner_binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import tempfile

    from engines import RUNNER_ENV, RunnerNotFound, runner_path

    # the runner may run as an unprivileged user: its binary must be reachable by it
    home = Path(tempfile.mkdtemp(prefix="goby-test-runner-"))
    home.chmod(0o755)
    copy = home / "my-runner"
    copy.write_bytes(runner_binary.read_bytes())
    copy.chmod(0o755)
    monkeypatch.setenv(RUNNER_ENV, str(copy))
    assert runner_path() == copy
    with RunnerProcess() as proc:
        assert proc.execute(script(TENGO, "result := 1")).result == 1
        assert psutil.Process(proc.pid).exe() == str(copy)
    monkeypatch.setenv(RUNNER_ENV, str(tmp_path / "missing"))
    with pytest.raises(RunnerNotFound, match=RUNNER_ENV):
        runner_path()
    shutil.rmtree(home)
