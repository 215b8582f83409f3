"""Cost per event of dispatching on_tick through the HookBus, against a bare pluggy call.

Run: python benchmarks/bench_dispatch.py [--events N] [--repeats R]
Prints JSON. Every variant is measured in the same process, interleaved, R times; medians
and ratios to the bare pluggy call are reported (absolute numbers vary with machine load).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import uvloop

from framework import Tick, hookimpl
from framework.bus import HookBus
from framework.loader import new_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
TICK = Tick(
    symbol="BTCUSDT",
    bid=Decimal("100"),
    bid_qty=Decimal(1),
    ask=Decimal("100.1"),
    ask_qty=Decimal(1),
    event_time=1,
)


class SyncPlugin:
    def __init__(self) -> None:
        self.n = 0

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        self.n += 1


class AsyncPlugin:
    def __init__(self) -> None:
        self.n = 0

    @hookimpl
    async def on_tick(self, tick: Tick) -> None:
        self.n += 1


def manager(plugin_type: type, count: int) -> Any:
    pm = new_plugin_manager()
    for i in range(count):
        pm.register(plugin_type(), name=f"p{i}")
    return pm


def bare_pluggy(count: int, events: int) -> float:
    call = manager(SyncPlugin, count).hook.on_tick
    started = time.perf_counter()
    for _ in range(events):
        call(ctx=None, tick=TICK)
    return time.perf_counter() - started


def bus_sync(count: int, events: int) -> float:
    bus = HookBus(manager(SyncPlugin, count))
    notify = bus.notify
    args = (None, TICK)
    started = time.perf_counter()
    for _ in range(events):
        notify("on_tick", args)
    return time.perf_counter() - started


def bus_async(count: int, events: int) -> float:
    """Emit ``events`` notifications and wait until every plugin handled them all."""

    async def run() -> float:
        bus = HookBus(manager(AsyncPlugin, count))
        notify = bus.notify
        args = (None, TICK)
        batch = 1000  # stay below the queue size so nothing is dropped
        started = time.perf_counter()
        for _ in range(events // batch):
            for _ in range(batch):
                notify("on_tick", args)
            await bus.drain(within=60)
        elapsed = time.perf_counter() - started
        await bus.aclose()
        return elapsed

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run())


VARIANTS: dict[str, Callable[[int, int], float]] = {
    "bare_pluggy": bare_pluggy,
    "bus_sync": bus_sync,
    "bus_async": bus_async,
}


def bus_of_revision(rev: str) -> Any:
    """``framework/bus.py`` as it was at git revision ``rev``, loaded as its own module."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:framework/bus.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType(f"bus_at_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:framework/bus.py", "exec"), module.__dict__)
    return module


def against(rev: str, rounds: int, events: int) -> dict[str, Any]:
    """This tree's bus and ``rev``'s in one process, interleaved ``rounds`` times: CPU µs per
    ``on_tick`` to synchronous plugins (best of each), and the median of the paired ratios."""
    from framework import bus as this_bus

    old_bus = bus_of_revision(rev)
    args = (None, TICK)

    def cpu(notify: Callable[[str, tuple[Any, ...]], None]) -> float:
        started = time.process_time()
        for _ in range(events):
            notify("on_tick", args)
        return (time.process_time() - started) / events * 1e6

    out: dict[str, Any] = {}
    for count in (1, 5):
        old = old_bus.HookBus(manager(SyncPlugin, count)).notify
        new = this_bus.HookBus(manager(SyncPlugin, count)).notify
        before, after, ratios = [], [], []
        for _ in range(rounds):
            b, a = cpu(old), cpu(new)
            before.append(b)
            after.append(a)
            ratios.append(a / b if b else 1.0)
        out[f"bus_sync/{count}"] = {
            "before_best_us": round(min(before), 3),
            "after_best_us": round(min(after), 3),
            "after_over_before_median_of_pairs": round(statistics.median(ratios), 3),
        }
    return {
        "benchmark": f"on_tick dispatch, this tree against {rev}",
        "unit": "CPU us per event",
        "rounds": rounds,
        "events_per_round": events,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "results": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--against",
        metavar="REV",
        help="compare this tree's bus with framework/bus.py at git revision REV, in one "
        "process, interleaved --repeats rounds of --events events (CPU time; e.g. "
        "--against main --repeats 300 --events 2000)",
    )
    args = parser.parse_args()
    if args.against:
        result = against(args.against, args.repeats, args.events)
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    samples: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for count in (1, 5):
            for name, func in VARIANTS.items():
                events = args.events if name != "bus_async" else args.events // 5
                seconds = func(count, events)
                samples.setdefault(f"{name}/{count}", []).append(seconds / events * 1e6)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    result: dict[str, Any] = {
        "benchmark": "on_tick dispatch",
        "unit": "us per event (median of repeats)",
        "events": args.events,
        "repeats": args.repeats,
        "us_per_event": {k: round(v, 3) for k, v in medians.items()},
        "ratio_to_bare_pluggy": {
            k: round(v / medians[f"bare_pluggy/{k.split('/')[1]}"], 2)
            for k, v in medians.items()
            if not k.startswith("bare_pluggy")
        },
        "added_us_per_event_vs_pluggy": {
            k: round(v - medians[f"bare_pluggy/{k.split('/')[1]}"], 3)
            for k, v in medians.items()
            if not k.startswith("bare_pluggy")
        },
    }
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
