"""engine.execute latency and throughput for 1, 8 and 64 concurrent callers and
pool sizes 1, 2 and 4, side by side in the same run with RunnerProcess direct
(the cost of the actor layer) and Redis EVALSHA of the equivalent Lua script
through redis-py against a local redis-server (a well-known process-isolated
script runner). Also: each runner's idle RSS and the host's RSS.

    python -m bench.engine_latency [--seconds S] [--out FILE]

Setup: redis-server comes from Debian's packages; when it is missing and we
are root, this installs it (apt-get). Not a test: nothing asserts on speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from actors import EngineConfig, ScriptEngine
from engines import Language, RunnerProcess, Script
from registry.providers import EmbeddedProvider

from .runner_latency import INPUT, TENGO_DAMAGE, percentile

LUA_DAMAGE = """
local attack, power, defense = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local base = attack * power - defense
if base < 1 then base = 1 end
local factor = 0.85 + math.random() * 0.3
local damage = math.floor(base * factor)
local critical = math.random() < 0.1
if critical then damage = damage * 2 end
return {damage, critical and 1 or 0, tostring(factor)}
"""

CALLERS = (1, 8, 64)
POOLS = (1, 2, 4)


def ensure_redis_server() -> str:
    path = shutil.which("redis-server")
    if path:
        return path
    if os.geteuid() != 0:
        raise SystemExit("redis-server is not installed and we are not root: apt-get install redis-server")
    print("installing redis-server from Debian packages ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env)
    path = shutil.which("redis-server")
    if not path:
        raise SystemExit("redis-server did not install")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def redis_server() -> Iterator[int]:
    binary = ensure_redis_server()
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


def drive(callers: int, seconds: float, call: Callable[[], object]) -> dict[str, Any]:
    """``callers`` threads call ``call`` for ``seconds``; latency of each call."""
    samples: list[list[float]] = [[] for _ in range(callers)]
    stop = threading.Event()
    start = threading.Barrier(callers + 1)

    def worker(out: list[float]) -> None:
        start.wait()
        while not stop.is_set():
            t0 = time.perf_counter()
            call()
            out.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker, args=(s,)) for s in samples]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    flat = [x for s in samples for x in s]
    return {
        "n": len(flat),
        "p50_us": percentile(flat, 50) * 1e6,
        "p99_us": percentile(flat, 99) * 1e6,
        "throughput_per_s": len(flat) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.5, help="per measured cell")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "engine_latency.json")
    args = parser.parse_args()

    import redis

    ctx = INPUT.context
    rows: list[dict[str, Any]] = []

    def add(system: str, pool: int | None, callers: int, result: dict[str, Any]) -> None:
        rows.append({"system": system, "pool": pool, "callers": callers, **result})
        print(
            f"{system:<22} pool={pool or '-':<2} callers={callers:<3} n={result['n']:>7} "
            f"p50={result['p50_us']:>8.1f}µs p99={result['p99_us']:>9.1f}µs "
            f"{result['throughput_per_s']:>9.0f}/s",
            flush=True,
        )

    with redis_server() as port:
        client = redis.Redis(host="127.0.0.1", port=port, max_connections=128)
        sha = client.script_load(LUA_DAMAGE)
        argv = (ctx["attacker"]["attack"], ctx["weapon"]["power"], ctx["target"]["defense"])
        for _ in range(500):
            client.evalsha(sha, 0, *argv)
        for callers in CALLERS:
            add("redis EVALSHA", None, callers, drive(callers, args.seconds, lambda: client.evalsha(sha, 0, *argv)))

    script = Script("bench", "damage", Language.TENGO, TENGO_DAMAGE)
    with RunnerProcess(name="bench-direct") as direct:
        for _ in range(500):
            direct.execute(script, INPUT)
        for callers in CALLERS:
            add("RunnerProcess direct", 1, callers, drive(callers, args.seconds, lambda: direct.execute(script, INPUT)))

    idle_rss: dict[int, list[int]] = {}
    host_rss: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / "bench_scripts"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        (pkg / "damage.tengo").write_text(TENGO_DAMAGE)
        import sys

        sys.path.insert(0, tmp)
        provider = EmbeddedProvider("bench", "bench_scripts")
        for pool in POOLS:
            config = EngineConfig(
                pools={Language.TENGO: pool, Language.ZYGOMYS: 1}, hot_reload=False, discover_providers=False
            )
            with ScriptEngine.start(config, providers=[provider]) as engine:
                for _ in range(500):
                    engine.execute("bench", "damage", INPUT)
                time.sleep(0.2)
                status = engine.status()
                idle_rss[pool] = [e.rss_bytes or 0 for e in status.languages["tengo"].executors]
                for callers in CALLERS:
                    add(
                        "engine.execute",
                        pool,
                        callers,
                        drive(callers, args.seconds, lambda e=engine: e.execute("bench", "damage", INPUT)),
                    )
                host_rss[pool] = psutil.Process().memory_info().rss

    redis_p50 = next(r["p50_us"] for r in rows if r["system"] == "redis EVALSHA" and r["callers"] == 1)
    engine1 = [r for r in rows if r["system"] == "engine.execute" and r["callers"] == 1]
    best64 = max(r["throughput_per_s"] for r in rows if r["system"] == "engine.execute" and r["callers"] == 64)
    direct1 = next(r["p50_us"] for r in rows if r["system"] == "RunnerProcess direct" and r["callers"] == 1)
    print()
    print(f"redis EVALSHA single-caller p50: {redis_p50:.1f} µs")
    for r in engine1:
        print(
            f"engine.execute pool={r['pool']} single-caller p50: {r['p50_us']:.1f} µs "
            f"(actor layer over RunnerProcess direct: {r['p50_us'] - direct1:+.1f} µs)"
        )
    print(f"engine.execute best throughput at 64 callers: {best64:.0f}/s")
    for pool, rss in idle_rss.items():
        runners_mb = [round(x / 2**20, 1) for x in rss]
        print(f"pool={pool}: idle runner RSS {runners_mb} MB, host RSS {host_rss[pool] / 2**20:.1f} MB")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "engine_latency",
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "cpus": os.cpu_count(),
                "rows": rows,
                "idle_runner_rss_bytes": idle_rss,
                "host_rss_bytes": host_rss,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
