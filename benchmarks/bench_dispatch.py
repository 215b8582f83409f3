"""Cost per event of dispatching on_tick through the HookBus, against a bare pluggy call.

Run: python benchmarks/bench_dispatch.py [--events N] [--repeats R]
Prints JSON. Every variant is measured in the same process, interleaved, R times; medians
and ratios to the bare pluggy call are reported (absolute numbers vary with machine load).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import uvloop

from framework import Tick, hookimpl
from framework.bus import HookBus
from framework.loader import new_plugin_manager

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
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
