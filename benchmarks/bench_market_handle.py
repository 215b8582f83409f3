"""In-process CPU of the bookTicker path, this tree against others, alternated in one run.

Two paths, on the peers harness's 1,024 bookTicker messages, ``--rounds`` rounds each, best
CPU µs per message:

* ``handle``: ``MarketStream.handle`` alone (decode, value checks, last tick per symbol),
  emitting to a list;
* ``bot``: the same emitting the way the bot does, through ``ctx.hooks.on_tick`` of a real
  ``BotContext`` (the stale-tick check where the tree has one, the last tick, ``HookBus``) to
  one no-op ``on_tick`` plugin.

No sockets, so far less noise than ``bench_hot_path.py``. Each tree runs in its own process
(``PYTHONPATH=DIR``), and the trees take turns ``--alternations`` times, so a noisy neighbour
hits them alike; the JSON has every alternation's figures, each tree's best and median, and
the ratio of every other tree's best to this tree's (``vs_this``: above 1 = this tree is
cheaper)::

    PEERS_DIR=/work/shared/bench/peers .venv/bin/python benchmarks/bench_market_handle.py \\
        --compare before=/tmp/before --compare main=/tmp/main_now
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(os.environ.get("PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))
PATHS = ("handle", "bot")


async def measure(rounds: int) -> dict[str, Any]:
    """Both paths in this process, on the ``framework``/``plugins`` found on ``sys.path``."""
    sys.path.insert(0, str(PEERS))
    import aiohttp
    from msgs import make_payload_tails  # the harness's own messages

    import framework
    from framework.bus import HookBus
    from framework.clock import SystemClock
    from framework.context import BotContext
    from framework.hookspecs import hookimpl
    from framework.loader import new_plugin_manager
    from framework.scheduler import Scheduler
    from framework.settings import RuntimeSettings, Settings
    from framework.types import Tick
    from plugins.binance import Endpoints
    from plugins.binance.config import BinanceConfig
    from plugins.binance.counters import EventCounters
    from plugins.binance.market_stream import MarketStream

    class Noop:
        @hookimpl
        def on_tick(self, tick: Tick) -> None:
            pass

    pm = new_plugin_manager()
    pm.register(Noop(), name="noop")
    bus = HookBus(pm)
    clock = SystemClock()
    try:  # the harness's event times are old: a bound that keeps them (still checked per tick)
        settings = Settings(runtime=RuntimeSettings(max_tick_age=3600))
    except TypeError:  # a tree without runtime.max_tick_age
        settings = Settings()
    ctx = BotContext(
        settings=settings, clock=clock, bus=bus, scheduler=Scheduler(clock), plugin_configs={}
    )
    if hasattr(bus, "bind"):
        bus.bind(ctx)
    else:
        setattr(bus, "ctx", ctx)  # noqa: B010 - a tree from before HookBus.bind

    # the harness prefixes each message with its send time: {"st":<ns>,...}
    messages = [b'{"st":1234567890123456789' + t for t in make_payload_tails("bookTicker")]
    delivered: list[Any] = []
    out: dict[str, Any] = {"framework": str(Path(framework.__file__).parent.parent)}
    async with aiohttp.ClientSession() as session:
        for path in PATHS:
            last: dict[str, Any] = {}
            market = MarketStream(
                session=session,
                endpoints=Endpoints("http://127.0.0.1:1", "ws://127.0.0.1:1", False),
                streams=[],
                config=BinanceConfig(),
                emit=delivered.append if path == "handle" else ctx.hooks.on_tick,
                counters=EventCounters(),
                on_state=lambda *_: None,
                last=last,
                combined=False,
            )
            handle, best = market.handle, float("inf")
            for _ in range(rounds):
                last.clear()  # every message is new again (see peers_tradeloop.py)
                delivered.clear()
                start = time.process_time()
                for data in messages:
                    handle(data)
                best = min(best, (time.process_time() - start) / len(messages) * 1e6)
            out[path] = round(best, 3)
    ticks = bus.counts.get("on_tick", 0) if hasattr(bus, "counts") else None
    if ticks is not None and ticks != rounds * len(messages):
        raise RuntimeError(f"the bot path delivered {ticks} of {rounds * len(messages)} ticks")
    return out


def run_tree(directory: Path, rounds: int) -> dict[str, Any]:
    """One child process measuring the tree at ``directory``."""
    env = {**os.environ, "PYTHONPATH": str(directory), "PEERS_DIR": str(PEERS)}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", "--rounds", str(rounds)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(row["framework"]).resolve() != directory.resolve():
        raise RuntimeError(f"{directory}: imported the code of {row['framework']} instead")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join((__doc__ or "").splitlines()[1:]),
    )
    parser.add_argument("--rounds", type=int, default=100, help="rounds per process (best)")
    parser.add_argument("--alternations", type=int, default=5, help="turns of every tree")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="another checkout to measure alternately with this one (repeatable)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.rounds))))
        return
    trees = {"this": ROOT}
    for spec in args.compare:
        label, _, where = spec.partition("=")
        trees[label] = Path(where).resolve()
    runs: dict[str, dict[str, list[float]]] = {t: {p: [] for p in PATHS} for t in trees}
    for _ in range(args.alternations):
        for label, directory in trees.items():
            row = run_tree(directory, args.rounds)
            for path in PATHS:
                runs[label][path].append(row[path])
    report: dict[str, Any] = {
        "rounds": args.rounds,
        "alternations": args.alternations,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpu_us_per_msg": {
            t: {
                p: {"best": min(v), "median": round(statistics.median(v), 3), "runs": v}
                for p, v in paths.items()
            }
            for t, paths in runs.items()
        },
    }
    report["vs_this"] = {
        t: {p: round(min(runs[t][p]) / min(runs["this"][p]), 3) for p in PATHS}
        for t in trees
        if t != "this"
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
