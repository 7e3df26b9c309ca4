"""The same logical script in Tengo and in Zygomys returns equal results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines import Language, RunnerProcess, Script, ScriptInput

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(1 << 63), (1 << 63) - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)

PAIRS = {
    "identity": ("result := v", "(def result v)"),
    "wrapped": (
        'result := {v: v, pair: [v, v], n: n + 1, s: "k" + string(n)}',
        '(def result (hash v: v pair: [v v] n: (+ n 1) s: (concat "k" (str n))))',
    ),
    "from_input": ('result := input["v"]', '(def result (hget input "v"))'),
}


@pytest.fixture(scope="module")
def shared_runner(runner_binary: Path) -> Iterator[RunnerProcess]:
    with RunnerProcess(binary=runner_binary, name="crosslang") as proc:
        proc.start()
        yield proc


def run_both(runner: RunnerProcess, pair: str, context: dict[str, Any]) -> tuple[Any, Any]:
    tengo_src, zy_src = PAIRS[pair]
    t = runner.execute(Script("x", pair, Language.TENGO, tengo_src), ScriptInput(context)).result
    z = runner.execute(Script("x", pair, Language.ZYGOMYS, zy_src), ScriptInput(context)).result
    return t, z


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v=values)
def test_identity_round_trips_in_both_languages(shared_runner: RunnerProcess, v: Any) -> None:
    t, z = run_both(shared_runner, "identity", {"v": v})
    assert t == v
    assert z == v


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v=values, n=st.integers(-(1 << 40), 1 << 40))
def test_constructed_results_are_equal(shared_runner: RunnerProcess, v: Any, n: int) -> None:
    t, z = run_both(shared_runner, "wrapped", {"v": v, "n": n})
    assert t == z == {"v": v, "pair": [v, v], "n": n + 1, "s": f"k{n}"}
    t, z = run_both(shared_runner, "from_input", {"v": v})
    assert t == z == v
