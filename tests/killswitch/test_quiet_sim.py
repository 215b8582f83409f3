"""The periodic check waits for a change when the figures stay the same: it is cheap on a
still market (a backtest moves the clock by whole candles), and still trips on the next price."""

from __future__ import annotations

import pytest

from framework.clock import ManualClock
from framework.testing import HookRecorder
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import SimBotFactory, SimFactory, until

from .helpers import limits, move, open_long

DAY = 86_400


@pytest.fixture
async def still_sim(sim_factory: SimFactory) -> SimExchange:
    """A simulator whose prices move only when a test moves them."""
    return await sim_factory(updates_per_second=0)


async def test_unchanged_figures_wait_for_the_next_tick_which_still_trips(
    sim_bot: SimBotFactory,
    still_sim: SimExchange,
    manual_clock: ManualClock,
    hook_recorder: HookRecorder,
) -> None:
    bot = await sim_bot(sim=still_sim, overrides=limits(max_daily_loss=300))
    hook_recorder.attach(bot)
    kill_switch = bot.ctx.kill_switch
    price = await open_long(bot, still_sim, qty="1.000")
    for _ in range(15):  # the peak is saved, the figures settle
        await manual_clock.advance(1.0)
    checks = kill_switch.checks
    for _ in range(60):
        await manual_clock.advance(1.0)
    assert kill_switch.checks - checks <= 1  # one check a second before: 60

    await move(bot, still_sim, price - 450)
    await manual_clock.advance(1.0)
    await until(lambda: hook_recorder.of("on_kill_switch"))
    assert kill_switch.trip is not None
    assert kill_switch.trip.limit == "daily_loss"


async def test_a_day_that_begins_in_a_quiet_wait_starts_at_the_equity_before_the_next_tick(
    sim_bot: SimBotFactory,
    still_sim: SimExchange,
    manual_clock: ManualClock,
    hook_recorder: HookRecorder,
) -> None:
    bot = await sim_bot(sim=still_sim, overrides=limits(max_daily_loss=300))
    hook_recorder.attach(bot)
    kill_switch = bot.ctx.kill_switch
    price = await open_long(bot, still_sim, qty="1.000")
    for _ in range(15):
        await manual_clock.advance(1.0)
    before = kill_switch.risk
    assert before is not None
    # Past the next UTC midnight without a tick, then a fall: the day's loss counts from the
    # equity the day began with, as a check at midnight reads it.
    midnight = (manual_clock.time() // DAY + 1) * DAY
    await manual_clock.advance(midnight + 30 - manual_clock.time())
    await move(bot, still_sim, price - 450)
    await manual_clock.advance(1.0)
    await until(lambda: hook_recorder.of("on_kill_switch"))
    trip = kill_switch.trip
    assert trip is not None
    assert trip.limit == "daily_loss"
    risk = kill_switch.risk
    assert risk is not None
    assert risk.day != before.day
    assert risk.day_start == before.equity
