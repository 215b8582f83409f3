"""Degraded mode (issue 15, part 2) with the default settings: strategies stay held while the
user-data stream is down, yet can always get out (cancels and reduce-only orders go); the
cache says how fresh it is; polls stay inside the REST budget; the run summary shows it all.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from framework import BotContext, DegradedStatus, ManualClock, hookimpl
from framework.errors import TradingHeld
from framework.types import OrderRequest
from plugins.sim.testing import SimBotFactory, SimFactory, until

from .helpers import differences, drive, recon

STRATEGY = {
    "strategies": [
        {
            "id": "mm",
            "use": "tests.strategy.doubles:Recorder",
            "risk": {"max_order_notional": "1000000", "max_open_orders": 50},
        }
    ]
}


class DegradedLog:
    """Every ``on_degraded``."""

    def __init__(self) -> None:
        self.statuses: list[DegradedStatus] = []

    @hookimpl
    def on_degraded(self, ctx: BotContext, status: DegradedStatus) -> None:
        self.statuses.append(status)


async def test_held_while_degraded_a_strategy_can_still_get_out(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, seed=21, updates_per_second=20)
    plugin, log = recon(degraded_poll_interval=5.0), DegradedLog()
    bot = await sim_bot(plugins={"reconciliation": plugin, "log": log}, overrides=STRATEGY, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    await until(lambda: "BTCUSDT" in bot.ctx.last_ticks)
    api = bot.ctx.orders("mm")
    assert bot.ctx.freshness().live
    assert bot.ctx.freshness().age == 0
    qty = Decimal("0.004")
    await api.place(OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty))
    bid = sim.engine.quote("BTCUSDT").bid
    resting = await api.place(
        OrderRequest(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            quantity=qty,
            price=(bid * Decimal("0.8")).quantize(Decimal("0.1")),
        )
    )
    await until(lambda: bot.ctx.cache.position("BTCUSDT") is not None)

    sim.set_faults(user_stream_down=30.0)
    cut_at = manual_clock.time()
    await until(lambda: plugin.degraded)
    fresh = bot.ctx.freshness()
    assert not fresh.live
    assert fresh.degraded
    assert fresh.source == "stream"
    assert fresh.confirmed_at == cut_at
    await manual_clock.advance(3.0)
    assert bot.ctx.freshness().age == 3.0  # nothing confirmed the cache since the cut

    # Held: no new risk ...
    with pytest.raises(TradingHeld, match="only cancels and reduce-only"):
        await api.place(OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty))
    # ... but the way out is open: a cancel and a reduce-only close.
    await api.cancel("BTCUSDT", resting.client_order_id)
    await api.place(
        OrderRequest(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=qty, reduce_only=True)
    )
    assert sim.engine.positions["BTCUSDT"].amount == 0
    assert not sim.engine.open_orders["BTCUSDT"]

    await manual_clock.advance(2.0)  # the first poll: the cache learns the close over REST
    await until(lambda: plugin.degraded_totals.polls >= 1 and not plugin.busy)
    assert bot.ctx.cache.position("BTCUSDT") is None
    assert bot.ctx.freshness().source == "rest"
    assert bot.ctx.freshness().age == 0.0
    assert bot.ctx.trading_held  # still held: trade_while_degraded is off
    await manual_clock.advance(4.0)
    assert bot.ctx.freshness().age == 4.0

    for _ in range(25):
        await manual_clock.advance(1.0)
        await until(lambda: not plugin.busy or plugin.phase == "confirming")
    await drive(plugin, manual_clock, lambda: not plugin.degraded and not plugin.busy)
    assert not bot.ctx.trading_held
    assert bot.ctx.freshness().live
    assert differences(bot.ctx.cache, sim) == []
    await until(lambda: len(log.statuses) == 2)
    began, ended = log.statuses
    assert began.active
    assert began.reason.startswith("user_data disconnected")
    assert not ended.active
    assert ended.polls == plugin.degraded_totals.polls >= 5
    assert ended.weight == plugin.degraded_totals.weight > 0
    summary = await bot.stop()
    assert summary["degraded"]["entered"] == 1
    assert summary["degraded"]["polls"] == ended.polls
    assert summary["degraded"]["weight"] == ended.weight
    assert summary["degraded"]["seconds"] == ended.seconds >= 30.0


async def test_no_poll_while_the_rest_budget_is_tight(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    """The governor paces requests above ``slow_down_at``: polls wait for the next turn."""
    sim = await sim_factory(clock=manual_clock.time, seed=22, updates_per_second=5)
    plugin = recon(degraded_poll_interval=5.0)
    bot = await sim_bot(
        plugins={"reconciliation": plugin}, sim=sim, binance={"weight_limit_1m": 80}
    )
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    sim.set_faults(user_stream_down=600.0)
    await until(lambda: plugin.degraded)
    for _ in range(40):
        await manual_clock.advance(1.0)
        await until(lambda: not plugin.busy)
    totals = plugin.degraded_totals
    assert totals.deferred >= 1  # 80 weight a minute: 2 polls fit, the rest wait
    assert totals.polls >= 1
    assert bot.ctx.exchange.stats()["rest"]["http_429"] == 0


async def test_no_user_stream_at_startup_is_degraded_mode(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    """No user-data stream can connect at the start (PITFALLS 6): the cache is seeded and
    followed by polls, strategies held, until the stream connects and is resynced."""
    sim = await sim_factory(
        clock=manual_clock.time, seed=23, updates_per_second=5, faults={"user_stream_down": 20.0}
    )
    await sim.place_order("BTCUSDT", "BUY", "0.004")  # a position before the bot starts
    plugin = recon(wait_for_stream=0.3, degraded_poll_interval=5.0)
    bot = await sim_bot(plugins={"reconciliation": plugin}, sim=sim, start=False)
    await bot.start()
    await until(lambda: plugin.degraded and plugin.degraded_totals.polls >= 1)
    assert bot.ctx.trading_held
    assert bot.ctx.cache.position("BTCUSDT") is not None  # seeded by the first poll
    await sim.place_order("BTCUSDT", "SELL", "0.004")
    await manual_clock.advance(5.0)
    await until(lambda: plugin.degraded_totals.polls >= 2 and not plugin.busy)
    assert bot.ctx.cache.position("BTCUSDT") is None  # learned by a poll
    for _ in range(16):
        await manual_clock.advance(1.0)
        await until(lambda: not plugin.busy or plugin.phase == "confirming")
    await drive(plugin, manual_clock, lambda: not plugin.degraded and not plugin.busy)
    assert not bot.ctx.trading_held
    assert bot.ctx.freshness().live
    assert differences(bot.ctx.cache, sim) == []
    assert plugin.stats.runs >= 1  # the resync: a full reconcile
    assert plugin.last_result is not None
    assert plugin.last_result.mismatches == ()
