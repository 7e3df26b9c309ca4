"""Hot reload latency: time from writing an external script to the new version
being active (the next execution returns it), over N edits.

    python -m bench.reload_latency [--edits 50] [--out FILE]

Prints a table and writes JSON. Not a test: nothing asserts on speed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

from actors import EngineConfig, ScriptEngine
from actors.logs import configure_logging
from engines import Language, ScriptInput
from registry.registry import ReloadEvent

from .runner_latency import percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reload_latency.json")
    args = parser.parse_args()
    configure_logging("WARNING")

    with tempfile.TemporaryDirectory() as tmp:
        scripts = Path(tmp) / "scripts"
        target = scripts / "wargame" / "damage_calculator.tengo"
        target.parent.mkdir(parents=True)
        config = EngineConfig(pools={Language.TENGO: 1, Language.ZYGOMYS: 1}, scripts_dir=scripts, hot_reload=True)
        activated = threading.Event()

        def on_reload(event: ReloadEvent) -> None:
            if event.outcome == "activated":
                activated.set()

        to_event: list[float] = []
        to_result: list[float] = []
        with ScriptEngine.start(config) as engine:
            engine.subscribe_reloads(on_reload)
            for i in range(args.edits):
                activated.clear()
                t0 = time.perf_counter()
                target.write_text(f"result := {i}")
                if not activated.wait(5):
                    raise SystemExit(f"edit {i} was not activated within 5 s")
                to_event.append(time.perf_counter() - t0)
                while engine.execute("wargame", "damage_calculator", ScriptInput()).result != i:
                    time.sleep(0.001)
                to_result.append(time.perf_counter() - t0)
                time.sleep(0.05)

    rows = [
        {"measure": "write -> activated event", **stats(to_event)},
        {"measure": "write -> next execution returns it", **stats(to_result)},
    ]
    print(f"{'measure':<36} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for r in rows:
        print(f"{r['measure']:<36} {r['n']:>4} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['max_ms']:>8.1f}")
    print("(debounce: 50 ms quiet period before a file is read)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "reload_latency", "rows": rows}, indent=2))
    print(f"wrote {args.out}")


def stats(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": percentile(samples, 50) * 1e3,
        "p95_ms": percentile(samples, 95) * 1e3,
        "max_ms": max(samples) * 1e3,
    }


if __name__ == "__main__":
    main()
