"""Per-execution latency of a warm RunnerProcess against spawning a fresh runner
for every execution, for a small damage calculation in each language.

    python -m bench.runner_latency [--warm N] [--spawn N] [--out FILE]

Prints a table and writes JSON (default bench/results/runner_latency.json).
Not a test: nothing here asserts on speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from engines import Language, RunnerProcess, Script, ScriptInput

TENGO_DAMAGE = """
rand := import("rand")
base := attacker.attack * weapon.power - target.defense
if base < 1 { base = 1 }
factor := 0.85 + rand.float() * 0.3
damage := int(base * factor)
critical := rand.float() < 0.1
if critical { damage *= 2 }
result := {damage: damage, critical: critical, factor: factor}
"""

ZYGOMYS_DAMAGE = """
(def base (- (* (hget attacker "attack") (hget weapon "power")) (hget target "defense")))
(cond (< base 1) (set base 1) ())
(def factor (+ 0.85 (* (random) 0.3)))
(def critical (< (random) 0.1))
(def damage (round (* base factor)))
(cond critical (set damage (* damage 2)) ())
(def result (hash damage: damage critical: critical factor: factor))
"""

INPUT = ScriptInput(
    context={
        "attacker": {"name": "knight", "attack": 12},
        "weapon": {"name": "sword", "power": 3},
        "target": {"name": "orc", "defense": 9},
    }
)

SCRIPTS = {
    Language.TENGO: Script("bench", "damage", Language.TENGO, TENGO_DAMAGE),
    Language.ZYGOMYS: Script("bench", "damage", Language.ZYGOMYS, ZYGOMYS_DAMAGE),
}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summarise(label: str, language: Language, samples_s: list[float], runner_us: list[int]) -> dict[str, Any]:
    total = sum(samples_s)
    return {
        "mode": label,
        "language": language.value,
        "n": len(samples_s),
        "p50_us": percentile(samples_s, 50) * 1e6,
        "p99_us": percentile(samples_s, 99) * 1e6,
        "mean_us": statistics.fmean(samples_s) * 1e6,
        "throughput_per_s": len(samples_s) / total if total else 0.0,
        "runner_exec_p50_us": percentile([float(u) for u in runner_us], 50) if runner_us else None,
    }


def warm(language: Language, n: int) -> dict[str, Any]:
    script = SCRIPTS[language]
    with RunnerProcess(name="bench-warm") as runner:
        for _ in range(200):  # warm-up: load, caches, branch predictors
            runner.execute(script, INPUT)
        samples: list[float] = []
        runner_us: list[int] = []
        for _ in range(n):
            t0 = time.perf_counter()
            out = runner.execute(script, INPUT)
            samples.append(time.perf_counter() - t0)
            runner_us.append(out.metrics.runner_us)
    return summarise("warm runner", language, samples, runner_us)


def spawn_per_call(language: Language, n: int) -> dict[str, Any]:
    script = SCRIPTS[language]
    samples: list[float] = []
    runner_us: list[int] = []
    for _ in range(n):
        t0 = time.perf_counter()
        runner = RunnerProcess(name="bench-spawn")
        try:
            out = runner.execute(script, INPUT)
        finally:
            runner.stop()
        samples.append(time.perf_counter() - t0)
        runner_us.append(out.metrics.runner_us)
    return summarise("spawn per call", language, samples, runner_us)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm", type=int, default=5000, help="executions on the warm runner")
    parser.add_argument("--spawn", type=int, default=100, help="executions with a fresh runner each")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "runner_latency.json")
    args = parser.parse_args()

    rows = []
    for language in (Language.TENGO, Language.ZYGOMYS):
        rows.append(warm(language, args.warm))
        rows.append(spawn_per_call(language, args.spawn))

    print(f"{'language':<9} {'mode':<15} {'n':>6} {'p50 µs':>9} {'p99 µs':>9} {'exec/s':>9} {'runner p50 µs':>14}")
    for r in rows:
        print(
            f"{r['language']:<9} {r['mode']:<15} {r['n']:>6} {r['p50_us']:>9.1f} {r['p99_us']:>9.1f} "
            f"{r['throughput_per_s']:>9.0f} {r['runner_exec_p50_us'] or 0:>14.1f}"
        )
    speedups = {}
    for language in (Language.TENGO, Language.ZYGOMYS):
        w = next(r for r in rows if r["language"] == language.value and r["mode"] == "warm runner")
        s = next(r for r in rows if r["language"] == language.value and r["mode"] == "spawn per call")
        speedups[language.value] = s["p50_us"] / w["p50_us"]
        print(f"{language.value}: warm runner is {speedups[language.value]:.0f}x faster per execution (p50)")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": "runner_latency",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "rows": rows,
        "warm_speedup_p50": speedups,
    }
    args.out.write_text(json.dumps(doc, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
