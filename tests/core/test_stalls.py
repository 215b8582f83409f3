"""A blocked event loop is noticed, and the ticks that waited it out are not fresh.

The watchdog's stall is a real blocking call on the loop; the stale ticks come over real
sockets from the simulator, whose clock is held back while the bot's clock moves on (the
ticks it sends were made before the stall and waited in the socket while the loop was blocked).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from decimal import Decimal

import pytest
from loguru import logger

from framework import BotContext, ManualClock, Tick, hookimpl
from framework.testing import BotFactory
from plugins.sim.testing import SimBotFactory, SimFactory, until


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    yield lines
    logger.remove(sink)


async def test_the_watchdog_logs_a_blocked_loop_with_the_stall_length(
    bot_factory: BotFactory, warnings: list[str]
) -> None:
    bot = await bot_factory(
        {"runtime": {"loop_check_interval": 0.05, "loop_stall_warning": 0.3}},
        clock=ManualClock(),
    )
    await until(lambda: bot.watchdog.wakeups >= 1)  # the watchdog runs
    time.sleep(0.8)  # noqa: ASYNC251 - the point: a synchronous call blocks the loop
    await until(lambda: bot.watchdog.stalls >= 1)

    (line,) = [w for w in warnings if "event loop stalled" in w]
    # The watchdog slept at most 0.05 s of the 0.8 s block before it: at least 0.75 s late.
    seconds = float(line.split("stalled for ")[1].split(" s")[0])
    assert seconds >= 0.75
    summary = await bot.stop()
    assert summary["loop"]["stalls"] == 1
    assert summary["loop"]["longest_stall_s"] >= 0.75


async def test_plugins_read_the_watchdog_through_the_context(bot_factory: BotFactory) -> None:
    bot = await bot_factory(
        {"runtime": {"loop_check_interval": 0.05, "loop_stall_warning": 0.3}},
        clock=ManualClock(),
    )
    await until(lambda: bot.watchdog.wakeups >= 1)
    time.sleep(0.5)  # noqa: ASYNC251 - the point: a synchronous call blocks the loop
    await until(lambda: bot.watchdog.stalls >= 1)

    lag = bot.ctx.loop_lag()
    assert lag is not None
    assert lag.stalls == 1
    assert lag.longest_stall >= 0.45  # slept at most 0.05 s of the 0.5 s block before it
    assert lag.max >= lag.longest_stall
    assert lag.stall_threshold == 0.3
    assert lag.wakeups >= 2
    await bot.stop()


async def test_a_loop_that_is_never_blocked_reports_no_stall(bot_factory: BotFactory) -> None:
    bot = await bot_factory({"runtime": {"loop_stall_warning": 5.0}}, clock=ManualClock())
    summary = await bot.stop()
    assert summary["loop"]["stalls"] == 0


def near(tick: Tick, price: int) -> bool:
    return abs(tick.mid - price) < 1


class TickProbe:
    """A strategy that records every tick it is handed, with the bot's clock at that time."""

    def __init__(self) -> None:
        self.ticks: list[tuple[Tick, float]] = []

    @hookimpl
    def on_tick(self, ctx: BotContext, tick: Tick) -> None:
        self.ticks.append((tick, ctx.clock.time()))


async def test_ticks_older_than_max_tick_age_are_dropped_not_delivered(
    sim_factory: SimFactory,
    sim_bot: SimBotFactory,
    manual_clock: ManualClock,
    warnings: list[str],
) -> None:
    exchange_now = [manual_clock.time()]
    sim = await sim_factory(clock=lambda: exchange_now[0], updates_per_second=0)
    probe = TickProbe()
    bot = await sim_bot(
        plugins={"strategy:probe": probe}, overrides={"runtime": {"max_tick_age": 2.0}}, sim=sim
    )
    await sim.move_price("BTCUSDT", "60000")
    await until(lambda: any(near(t, 60000) for t, _ in probe.ticks))

    # The loop was blocked 100 s: the bot's clock moved on, and the ticks the exchange sent
    # before (its clock still says then) come out of the socket only now.
    await manual_clock.advance(100)
    for price in ("61000", "62000", "63000"):
        await sim.move_price("BTCUSDT", price)
    exchange_now[0] = manual_clock.time()  # the exchange's ticks are current again
    await sim.move_price("BTCUSDT", "64000")
    await until(lambda: any(near(t, 64000) for t, _ in probe.ticks))

    delivered = [t.bid for t, _ in probe.ticks]
    assert not [b for b in delivered if Decimal(60500) < b < Decimal(63500)]
    assert all(at * 1000 - t.event_time <= 2000 for t, at in probe.ticks)
    assert bot.ctx.last_ticks["BTCUSDT"].bid > 63500  # never a stale one as the last price
    summary = await bot.stop()
    assert summary["ticks"]["stale_dropped"] == 3
    assert summary["ticks"]["oldest_dropped_s"] >= 100
    assert any("dropping ticks older than runtime.max_tick_age" in w for w in warnings)


class BlocksWhileStarting:
    """A plugin whose start blocks the loop, as a library import on first use does."""

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        return self._lifespan()

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        await asyncio.sleep(0.2)  # the watchdog is running
        time.sleep(0.8)  # noqa: ASYNC251 - the point: a synchronous start blocks the loop
        await asyncio.sleep(0.2)  # the watchdog wakes, late
        yield


async def test_a_loop_blocked_while_starting_is_no_stall_and_later_blocks_are(
    bot_factory: BotFactory, warnings: list[str]
) -> None:
    bot = await bot_factory(
        {"runtime": {"loop_check_interval": 0.05, "loop_stall_warning": 0.3}},
        plugins={"slow_start": BlocksWhileStarting()},
        clock=ManualClock(),
    )
    assert bot.watchdog.stalls == 0
    assert bot.watchdog.blocked_at_start >= 0.75
    assert not [w for w in warnings if "event loop stalled" in w]
    time.sleep(0.5)  # noqa: ASYNC251 - once started, a block is a stall
    await until(lambda: bot.watchdog.stalls >= 1)
    summary = await bot.stop()
    assert summary["loop"]["stalls"] == 1
    assert summary["loop"]["blocked_at_start_s"] >= 0.75
