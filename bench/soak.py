"""Soak: 10,000 executions mixing benign and malicious scripts at concurrency
16 through one engine. Every benign execution must be correct and every
malicious one must end with its expected error; host RSS, open file
descriptors, threads and runner processes are compared before and after.

    python -m bench.soak [--executions N] [--concurrency C] [--out FILE]

Not a test (it runs for a while); it exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import threading
import time
from pathlib import Path

import psutil

from actors import EngineConfig, ScriptEngine
from actors.logs import configure_logging
from engines import Language, ScriptError, ScriptInput, SecurityLimits
from registry.providers import EmbeddedProvider

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = ROOT / "tests" / "security" / "attacks"


def attacks() -> list[tuple[str, set[str]]]:
    found = []
    for path in sorted(ATTACKS.iterdir()):
        if path.suffix not in (".tengo", ".zy"):
            continue
        word = path.read_text().splitlines()[0].removeprefix("// expect: ").split(" ")[0]
        found.append((path.stem, set(word.split("|"))))
    return found


def host_facts() -> dict[str, int]:
    me = psutil.Process()
    runners = [c for c in me.children(recursive=True) if "goby-runner" in c.name()]
    return {
        "rss_bytes": me.memory_info().rss,
        "fds": me.num_fds(),
        "threads": me.num_threads(),
        "runner_processes": len(runners),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--malicious", type=float, default=0.2, help="share of malicious executions")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "soak.json")
    args = parser.parse_args()
    configure_logging("ERROR")
    sys.path.insert(0, str(ROOT))

    attack_list = attacks()
    slow = {name for name, expected in attack_list if "timeout" in expected}
    config = EngineConfig(
        pools={Language.TENGO: 2, Language.ZYGOMYS: 2},
        limits=SecurityLimits(timeout=1.0, memory_mb=32, max_output_bytes=256 << 10),
        queue_size=1024,
        hot_reload=False,
        discover_providers=False,
    )
    providers = [
        EmbeddedProvider("attacks", "tests.security.attacks"),
        EmbeddedProvider("benign", "tests.security.benign"),
    ]
    rng = random.Random(7)
    plan: list[tuple[str, str, object]] = []
    for _ in range(args.executions):
        if rng.random() < args.malicious:
            # slow attacks (they run to their timeout) are a small share of the malicious ones
            name, expected = rng.choice(attack_list)
            while name in slow and rng.random() < 0.9:
                name, expected = rng.choice(attack_list)
            plan.append(("attacks", name, expected))
        else:
            n = rng.randint(-1000, 1000)
            plan.append(("benign", rng.choice(["check_tengo", "check_zygomys"]), n))

    outcomes: collections.Counter[str] = collections.Counter()
    wrong: list[str] = []
    lock = threading.Lock()

    with ScriptEngine.start(config, providers=providers) as engine:
        engine.register_functions("attacks", {"tick": lambda: 1})
        for _ in range(50):
            engine.execute("benign", "check_tengo", ScriptInput({"n": 1}))
            engine.execute("benign", "check_zygomys", ScriptInput({"n": 1}))
        before = host_facts()

        def run(item: tuple[str, str, object]) -> None:
            module, name, expected = item
            try:
                if module == "benign":
                    out = engine.execute(module, name, ScriptInput({"n": expected}))
                    ok = out.result == 2 * expected  # type: ignore[operator]
                    label = "benign ok" if ok else "benign WRONG"
                else:
                    out = engine.execute(module, name)
                    ok = "ok" in expected  # type: ignore[operator]
                    label = "malicious ok (expected)" if ok else "malicious answered"
            except ScriptError as err:
                ok = module == "attacks" and err.type.value in expected  # type: ignore[operator]
                label = f"malicious {err.type.value}" if ok else f"UNEXPECTED {err.type.value}"
            with lock:
                outcomes[label] += 1
                if not ok:
                    wrong.append(f"{module}/{name}: {label}")

        # workers pull from one iterator: no per-item future objects, so the host's
        # memory figures are the engine's, not the benchmark's bookkeeping
        items = iter(plan)

        def worker() -> None:
            while True:
                with lock:
                    item = next(items, None)
                if item is None:
                    return
                run(item)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        time.sleep(1.0)  # let restarted runners settle
        after = host_facts()
        status = engine.status()
        restarts = sum(e.restarts for lang in status.languages.values() for e in lang.executors)
    finally_facts = host_facts()

    print(
        f"{args.executions} executions, concurrency {args.concurrency}, {elapsed:.1f} s "
        f"({args.executions / elapsed:.0f}/s), runner restarts {restarts}"
    )
    for label, count in sorted(outcomes.items()):
        print(f"  {label:<32} {count:>6}")
    print(f"{'':<14} {'before':>12} {'after':>12} {'after stop':>12}")
    for key in before:
        print(f"{key:<14} {before[key]:>12} {after[key]:>12} {finally_facts[key]:>12}")
    checks = {
        "every benign result correct": not any("benign" in w for w in wrong),
        "every malicious one the expected error": not wrong,
        "runner count stable": after["runner_processes"] == before["runner_processes"],
        "no runner left after stop": finally_facts["runner_processes"] == 0,
        "host fds stable (+-4)": abs(after["fds"] - before["fds"]) <= 4,
        "host RSS growth < 10 MB": after["rss_bytes"] - before["rss_bytes"] < 10 << 20,
    }
    for name, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
    for line in wrong[:20]:
        print("  wrong:", line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "soak",
                "executions": args.executions,
                "concurrency": args.concurrency,
                "seconds": elapsed,
                "outcomes": outcomes,
                "restarts": restarts,
                "host": {"before": before, "after": after, "after_stop": finally_facts},
                "checks": checks,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
