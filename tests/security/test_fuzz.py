"""Fuzzing: generated garbage scripts and inputs through check and exec in both
languages. Every case must end with a result or a typed error — never a
runner crash, a hang, or a host crash."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines import ErrorType, Language, RunnerProcess, Script, ScriptError, ScriptInput, SecurityLimits
from tests.conftest import runner_children

pytestmark = pytest.mark.shared_engine

LIMITS = SecurityLimits(timeout=0.2, memory_mb=16, max_output_bytes=64 << 10)
# a crash of the runner is a bug; anything else is a legitimate typed answer
ACCEPTED = set(ErrorType) - {ErrorType.RUNNER_CRASHED}

TENGO_TOKENS = [
    "a",
    "b",
    "x",
    "result",
    "input",
    "log",
    "f",
    "len",
    "append",
    "string",
    "int",
    "import",
    '"fmt"',
    '"os"',
    '"times"',
    "func",
    "return",
    "if",
    "else",
    "for",
    "in",
    "break",
    "continue",
    ":=",
    "=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    ">",
    "&&",
    "||",
    "!",
    "?",
    ":",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    ";",
    "\n",
    "0",
    "1",
    "-1",
    "3.5",
    '"s"',
    "true",
    "false",
    "undefined",
    "error",
    "is_error",
    "bytes",
    "...",
]
ZYGOMYS_TOKENS = [
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "def",
    "defn",
    "fn",
    "let",
    "cond",
    "for",
    "set",
    "begin",
    "hash",
    "hget",
    "hset",
    "append",
    "concat",
    "str",
    "log",
    "result",
    "input",
    "x",
    "y",
    "f",
    "+",
    "-",
    "*",
    "/",
    "==",
    "<",
    "mod",
    "0",
    "1",
    "-1",
    "2.5",
    '"s"',
    "true",
    "false",
    "nil",
    "quote",
    "'",
    "`",
    ":",
    "system",
    "include",
    "apply",
    "map",
    "len",
    "\n",
    "//",
    "^",
    "&",
    "%",
    "@",
    "#",
]


def soup(tokens: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(tokens), max_size=40).map(" ".join)


garbage = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
scripts_tengo = garbage | soup(TENGO_TOKENS)
scripts_zygomys = garbage | soup(ZYGOMYS_TOKENS)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 63) - 1) | st.floats() | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
contexts = st.dictionaries(st.sampled_from(["a", "b", "x", "y", "input", "result", "f", "k-1", ""]), values, max_size=4)


@pytest.fixture(scope="module")
def runner(runner_binary: Path) -> Iterator[RunnerProcess]:
    before = runner_children()
    with RunnerProcess(binary=runner_binary, name="fuzz", limits=LIMITS) as proc:
        proc.start()
        yield proc
    assert not (runner_children() - before)


def outcome(call: Any) -> object:
    t0 = time.monotonic()
    try:
        result = call()
    except ScriptError as err:
        assert err.type in ACCEPTED, f"{err.type.value}: {err.message}"
        result = err.type
    assert time.monotonic() - t0 < 3.0, "a case ran past its limits"
    return result


FUZZ = settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))


SCRIPTS = {Language.TENGO: scripts_tengo, Language.ZYGOMYS: scripts_zygomys}


@pytest.mark.parametrize("language", list(Language))
@FUZZ
@given(data=st.data())
def test_check(runner: RunnerProcess, language: Language, data: st.DataObject) -> None:
    source = data.draw(SCRIPTS[language], label="source")
    outcome(lambda: runner.check(Script("fuzz", "f", language, source)))


@pytest.mark.parametrize("language", list(Language))
@FUZZ
@given(data=st.data(), context=contexts)
def test_exec(runner: RunnerProcess, language: Language, data: st.DataObject, context: dict[str, Any]) -> None:
    source = data.draw(SCRIPTS[language], label="source")
    outcome(lambda: runner.execute(Script("fuzz", "f", language, source), ScriptInput(context)))


def test_the_runner_survived_the_fuzzing(runner: RunnerProcess) -> None:
    out = runner.execute(Script("fuzz", "ok", Language.TENGO, "result := 40 + 2"))
    assert out.result == 42
