"""Benchmark of the smart_logging plugin; prints one JSON object to stdout.

* per-call cost, in microseconds: a plain loguru call (default format, synchronous sink), a call
  below the level, a call the plugin suppresses, and a call it emits (caller side, and including
  the queue's drain);
* a flood of 100,000 identical warnings: lines written with the plugin and with plain loguru;
* ``on_tick`` dispatch latency: the time ``ctx.hooks.on_tick(tick)`` takes on a real ``Bot``
  (``HookBus``) with one on_tick plugin that logs a warning per tick, while another task floods
  100,000 identical warnings in bursts of 500 (about one second); ticks are sent one after
  another with ``await asyncio.sleep(0.0005)`` between them (uvloop timers have 1 ms
  resolution, so the count is reported), with the plugin and with plain loguru.

Every sink writes to a line counter in memory (no terminal, no disk). Figures are medians over
``--repeats`` runs. Run: ``.venv/bin/python benchmarks/bench_logging.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TextIO, cast

import orjson
from loguru import logger

from framework import BotContext, Tick, hookimpl
from framework.loader import PLUGIN_GROUP, discover, load_plugins
from framework.runtime import Bot, run_async
from framework.settings import load_settings
from plugins.smart_logging import SmartLogging, SmartLoggingSettings

FLOOD = 100_000
FLOOD_BURST = 500
TICK_INTERVAL = 0.0005


class LineCounter:
    """A text sink that only counts the lines written to it."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> None:
        self.lines += text.count("\n")

    def flush(self) -> None:
        pass


class Stepper:
    """A time source that jumps past any window on every call (so every record is emitted)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1000.0
        return self.now


@contextmanager
def stderr_to(sink: LineCounter) -> Iterator[None]:
    saved = sys.stderr
    sys.stderr = cast(TextIO, sink)
    try:
        yield
    finally:
        sys.stderr = saved


def per_call_us(
    call: Callable[[int], None], n: int, after: Callable[[], Any] | None = None
) -> float:
    started = time.perf_counter()
    for i in range(n):
        call(i)
    if after is not None:
        after()
    return (time.perf_counter() - started) / n * 1e6


def warn(i: int) -> None:
    logger.warning("price {} outside the band", i)


def debug(i: int) -> None:
    logger.debug("price {} outside the band", i)


def plain_loguru(sink: LineCounter) -> None:
    logger.remove()
    logger.add(sink)  # loguru's defaults: default format, DEBUG, synchronous


def micro(n: int) -> dict[str, float]:
    sink = LineCounter()
    plain_loguru(sink)
    plain = per_call_us(warn, n)
    with stderr_to(sink):
        plugin = SmartLogging(SmartLoggingSettings())
        plugin.install()
    below = per_call_us(debug, n)
    suppressed = per_call_us(warn, n)
    plugin.uninstall()
    with stderr_to(sink):
        plugin = SmartLogging(SmartLoggingSettings(), time_source=Stepper())
        plugin.install()
    emitted = per_call_us(warn, n)
    emitted_drained = per_call_us(warn, n, after=plugin.drain)
    plugin.uninstall()
    logger.remove()
    return {
        "plain_us": plain,
        "below_level_us": below,
        "suppressed_us": suppressed,
        "emitted_us": emitted,
        "emitted_with_drain_us": emitted_drained,
    }


class Ticker:
    """The on_tick plugin: logs the same warning on every tick."""

    def __init__(self) -> None:
        self.count = 0

    @hookimpl
    def on_tick(self, ctx: BotContext, tick: Tick) -> None:
        self.count += 1
        logger.warning("tick {} on {}", self.count, tick.symbol)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def flood_and_ticks(with_plugin: bool) -> dict[str, float]:
    sink = LineCounter()
    block: dict[str, Any] = {"enabled": with_plugin}
    settings = load_settings(
        use_files=False,
        overrides={"plugins": {"smart_logging": block}, "runtime": {"use_uvloop": True}},
    )
    table = {"smart_logging": discover(PLUGIN_GROUP)["smart_logging"]}
    ticker = Ticker()
    loaded = load_plugins(settings, extra=[("ticker", ticker)], plugin_table=table)
    if not with_plugin:
        plain_loguru(sink)
    bot = Bot(settings, loaded)
    with stderr_to(sink):
        await bot.start()
    tick = Tick(
        symbol="BTCUSDT",
        bid=Decimal("100"),
        bid_qty=Decimal(1),
        ask=Decimal("100.1"),
        ask_qty=Decimal(1),
        event_time=0,
    )
    plugin = loaded.pm.get_plugin("smart_logging")
    if isinstance(plugin, SmartLogging):
        plugin.drain()  # the start-up lines are written before counting
    lines_before = sink.lines
    done = asyncio.Event()

    async def flood() -> float:
        started = time.perf_counter()
        for _ in range(FLOOD // FLOOD_BURST):
            for i in range(FLOOD_BURST):
                logger.warning("order book gap {}", i)
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
        done.set()
        return elapsed

    dispatch: list[float] = []

    async def ticks() -> None:
        while not done.is_set():
            started = time.perf_counter_ns()
            bot.ctx.hooks.on_tick(tick)
            dispatch.append((time.perf_counter_ns() - started) / 1000)
            await asyncio.sleep(TICK_INTERVAL)

    flood_s, _ = await asyncio.gather(flood(), ticks())
    await bot.stop()
    logger.remove()
    return {
        "flood_s": flood_s,
        "flood_lines": sink.lines - lines_before,
        "ticks": len(dispatch),
        "dispatch_p50_us": percentile(dispatch, 0.50),
        "dispatch_p99_us": percentile(dispatch, 0.99),
        "dispatch_max_us": max(dispatch),
    }


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    micro_runs = [micro(args.calls) for _ in range(args.repeats)]
    costs = median_of(micro_runs)
    plugin_runs, plain_runs = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine noise
        plugin_runs.append(run_async(flood_and_ticks(True)))
        plain_runs.append(run_async(flood_and_ticks(False)))
    result = {
        "python": sys.version.split()[0],
        "repeats": args.repeats,
        "calls_per_repeat": args.calls,
        "per_call": costs,
        "ratio_suppressed_to_plain": round(costs["suppressed_us"] / costs["plain_us"], 3),
        "ratio_emitted_to_plain": round(costs["emitted_us"] / costs["plain_us"], 3),
        "ratio_emitted_with_drain_to_plain": round(
            costs["emitted_with_drain_us"] / costs["plain_us"], 3
        ),
        "flood": {"warnings": FLOOD, "smart_logging": median_of(plugin_runs)},
        "flood_plain_loguru": median_of(plain_runs),
    }
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
