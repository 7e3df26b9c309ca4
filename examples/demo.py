"""The demo host: starts the engine on the embedded wargame scripts (both
languages), runs a small battle through them, and prints results and status.

    python -m examples.demo
"""

from __future__ import annotations

import json
import sys

from actors import EngineConfig, ScriptEngine
from actors.logs import configure_logging
from engines import ScriptError, ScriptInput

KNIGHT = {"name": "knight", "attack": 12, "accuracy": 80, "shots": 3, "crit_chance": 0.15, "side": "blue"}
ORC = {"name": "orc", "defense": 9, "hp": 60, "max_hp": 60, "evasion": 20, "cover": "light", "side": "red"}
SWORD = {"name": "sword", "power": 4, "armor_piercing": 0.25, "effective_range": 2}


def show(title: str, value: object) -> None:
    print(f"  {title}: {json.dumps(value, default=str)}")


def main() -> int:
    configure_logging("WARNING")
    # no hot reload here: the demo runs the embedded defaults
    with ScriptEngine.start(EngineConfig(hot_reload=False)) as engine:
        print("goby-scripting demo: the wargame module's embedded scripts\n")
        orc_hp = ORC["hp"]
        for turn in (1, 2, 3):
            print(f"turn {turn}")
            hits = engine.execute(
                "wargame",
                "hit_simulator",
                ScriptInput(context={"attacker": KNIGHT, "target": ORC, "weapon": SWORD, "distance": 1}),
            )
            show("hit_simulator.tengo", hits.result)
            for _ in range(hits.result["hits"]):
                damage = engine.execute(
                    "wargame",
                    "damage_calculator",
                    ScriptInput(context={"attacker": KNIGHT, "target": {**ORC, "hp": orc_hp}, "weapon": SWORD}),
                )
                show("damage_calculator.tengo", damage.result)
                for line in damage.logs:
                    print(f"    log: {line}")
                orc_hp = damage.result["target_hp"]
                event = {
                    "type": "destroyed" if damage.result["destroyed"] else "attack",
                    "turn": turn,
                    "damage": damage.result["damage"],
                    "unit": {**ORC, "hp": orc_hp},
                }
                # the bus path: an asynchronous execution with the event as the message
                future = engine.execute_async(
                    "wargame",
                    "event_processor",
                    ScriptInput(context={"event": event, "morale_threshold": 50}, message=event),
                )
                processed = future.get(timeout=5)
                show("event_processor.zy", processed.result)
                if damage.result["destroyed"]:
                    break
            if orc_hp == 0:
                print("\nthe orc is destroyed")
                break

        try:
            engine.execute("wargame", "no_such_script")
        except ScriptError as err:
            print(f"\nan unknown script is a typed error: {err}")

        status = engine.status()
        print("\nengine status")
        for name, lang in status.languages.items():
            pids = [e.pid for e in lang.executors]
            print(f"  {name}: {lang.state}, pool {lang.pool_size}, runner pids {pids}, queue {lang.queue_depth}")
        for s in status.scripts:
            print(
                f"  {s.module}/{s.name} ({s.language}, {s.source}, {s.checksum[:12]}): "
                f"{s.executions} runs, {s.successes} ok, failures {s.failures}"
            )
        print(f"  host RSS {status.host_rss_bytes >> 20} MB, rejected requests {status.rejected}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
