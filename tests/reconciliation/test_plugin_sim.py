"""The reconciliation plugin in a real bot against the simulator over loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from decimal import Decimal

from loguru import logger

from framework import BotContext, ManualClock, hookimpl
from framework.testing import BotFactory
from framework.types import Fill, StreamState, StreamStatus
from plugins.binance import BinancePlugin
from plugins.reconciliation import ReconciliationPlugin
from plugins.sim.engine import OrderType, Side, TimeInForce
from plugins.sim.testing import SimBotFactory, SimFactory, until

from .helpers import Probe, StreamLog, differences, drive, exchange_time_passes, recon, reconcile


async def test_startup_seeds_the_cache_then_releases_strategies(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time)
    await sim.place_order("BTCUSDT", "BUY", "0.004")  # the account is not empty at start
    quote = sim.engine.quote("ETHUSDT")
    await sim.place_order("ETHUSDT", "BUY", "0.02", order_type="LIMIT", price=quote.bid - 10)
    plugin, probe = recon(), Probe()
    bot = await sim_bot(plugins={"reconciliation": plugin, "strategy:probe": probe}, sim=sim)
    await until(lambda: plugin.stats.runs >= 1 and probe.ticks >= 3)

    result = plugin.last_result
    assert result is not None
    assert (result.status, result.reason, result.mismatches) == ("ok", "startup", ())
    assert result.seeded >= 2  # USDT, the BTCUSDT position
    # the ETHUSDT order was already adopted by the connector at its start
    assert bot.ctx.exchange.stats()["adopted_orders"] == {"-": 1}
    # time, balance, positionRisk, openOrders of 2 symbols, the trade sweep of 2 symbols
    assert result.weight_used == 1 + 5 + 5 + 2 + 5 * 2
    assert differences(bot.ctx.cache, sim) == []
    assert bot.ctx.trading_held == ""
    # held strategies get no tick before the first reconcile, and its result first
    assert probe.events[0] == "reconcile ok"


class FailRestAfterStart:
    """Breaks the simulator's REST once the connector has started (its lifespan runs later)."""

    def __init__(self, sim_rate: float = 1.0) -> None:
        self.rate = sim_rate
        self.sim: object = None

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        return self._lifespan()

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        self.sim.set_faults(rest_error_rate=self.rate)  # type: ignore[attr-defined]
        yield


async def test_a_failing_startup_run_keeps_strategies_held_and_retries_with_backoff(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time)
    breaker = FailRestAfterStart()
    breaker.sim = sim
    plugin, probe = recon(wait_for_stream=0), Probe()
    bot = await sim_bot(
        plugins={"breaker": breaker, "reconciliation": plugin, "strategy:probe": probe},
        sim=sim,
        start=False,
    )
    await bot.start()
    connector = bot.ctx.exchange
    await until(lambda: plugin.stats.errors >= 1)
    await until(lambda: connector.stats()["events"]["ticks"] >= 5)  # the market flows...
    assert probe.events == []  # ...but a held strategy sees none of it
    assert "reconciliation" in bot.ctx.trading_held
    assert plugin.last_result is not None
    assert plugin.last_result.status == "error"
    assert plugin.last_result.error

    await manual_clock.advance(1.0)  # first retry after retry_base: fails again
    await until(lambda: plugin.stats.errors >= 2)
    assert probe.events == []

    sim.set_faults(rest_error_rate=0.0)
    # The user-data stream, refused a listenKey so far, connects now (its backoff runs on
    # real time): that asks for a resync, which holds the strategies again until it is done.
    # Wait for it, or a release seen in between would be taken for the end.
    binance = bot.ctx.plugin("binance")
    assert isinstance(binance, BinancePlugin)
    assert binance.connector is not None
    await binance.connector.wait_connected()
    await drive(
        plugin,
        manual_clock,
        lambda: plugin.stats.last_status == "ok" and not plugin.busy and not bot.ctx.trading_held,
        within=30,
    )
    await until(lambda: probe.ticks >= 1)
    assert bot.ctx.trading_held == ""
    assert probe.events[0].startswith("reconcile")
    assert "reconcile ok" in probe.events
    assert probe.events.index("reconcile ok") < probe.events.index("tick")
    assert differences(bot.ctx.cache, sim) == []
    assert plugin.metrics()["errors"] >= 2


async def test_drift_from_lost_events_is_found_repaired_logged_and_reported(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    plugin, probe = recon(), Probe()
    bot = await sim_bot(plugins={"reconciliation": plugin, "strategy:probe": probe}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING")
    try:
        sim.set_faults(drop_user_events=1.0)
        await sim.place_order("BTCUSDT", "BUY", "0.004")
        quote = sim.engine.quote("BTCUSDT")
        await sim.place_order("BTCUSDT", "BUY", "0.002", order_type="LIMIT", price=quote.bid - 50)
        result = await reconcile(bot, plugin, manual_clock, sim)
    finally:
        logger.remove(sink)

    assert result.status == "warning"
    assert sorted(m.kind for m in result.mismatches) == [
        "balance_amount",
        "fill_missing",  # the market order's trade, read back from the trade list
        "order_missing",
        "position_missing",
    ]
    assert all(m.repaired for m in result.mismatches)
    usdt = next(m for m in result.mismatches if m.kind == "balance_amount")
    assert Decimal(usdt.cache_value or "") == 10000
    assert Decimal(usdt.exchange_value or "") == sim.truth().balances["USDT"].wallet_balance
    assert usdt.cache_time is not None
    assert usdt.exchange_time is not None
    assert differences(bot.ctx.cache, sim) == []
    assert sorted(w.split(" drift")[0].split(" ")[-1] for w in warnings if " drift, " in w) == [
        "balance_amount",
        "fill_missing",
        "order_missing",
        "position_missing",
    ]  # one WARNING per kind of drift
    assert probe.results[-1] == result  # on_reconcile_result reached other plugins

    # the resting order is canceled while the stream still loses everything
    order = next(iter(bot.ctx.cache.open_orders.values()))
    sim.cancel(sim.engine.open_orders["BTCUSDT"][order.order_id])
    result = await reconcile(bot, plugin, manual_clock, sim)
    [gone] = result.mismatches
    assert (gone.kind, gone.repaired) == ("order_extra", True)
    assert (gone.exchange_value or "").startswith("CANCELED ")  # learnt by querying the order
    assert differences(bot.ctx.cache, sim) == []
    sim.set_faults(drop_user_events=0.0)

    metrics = plugin.metrics()
    assert metrics["by_kind"] == {
        "balance_amount": 1,
        "fill_missing": 1,
        "order_missing": 1,
        "position_missing": 1,
        "order_extra": 1,
    }
    assert metrics["drift_found"] == metrics["drift_repaired"] == 5
    assert metrics["order_queries"] == 1
    assert metrics["last_drift_at"] == metrics["last_good_at"] == manual_clock.time()
    assert metrics["seconds_since_good"] == 0
    await manual_clock.advance(10)
    assert plugin.metrics()["seconds_since_good"] == 10
    assert metrics["weight_used"] == sum(r.weight_used for r in probe.results)
    summary = await bot.stop()
    assert summary["reconcile"] == {
        "runs": 3,
        "drift_found": 5,
        "drift_repaired": 5,
        "in_flight_skipped": 0,
        "unreadable": 0,
        "errors": 0,
        "last_status": "warning",
    }


async def test_events_still_on_their_way_are_in_flight_not_drift(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0, user_event_delay=0.2)
    plugin = recon()
    bot = await sim_bot(plugins={"reconciliation": plugin}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    sim.set_faults(delay_user_events=1.0)  # every user event arrives 0.2 s late
    await sim.place_order("BTCUSDT", "BUY", "0.004")

    async def events_arrive() -> None:  # the stream catches up during confirm_delay...
        late = bot.account.late  # ...with updates older than the snapshot, kept aside
        await until(
            lambda: ("position", ("BTCUSDT", "BOTH")) in late and ("balance", "USDT") in late
        )
        assert bot.ctx.cache.position("BTCUSDT") is None  # not in the cache (yet)

    result = await reconcile(bot, plugin, manual_clock, sim, before_confirm=events_arrive)
    assert result.status == "ok"
    assert result.mismatches == ()
    assert result.in_flight_skipped >= 2  # USDT and the position were REST-only at compare
    assert differences(bot.ctx.cache, sim) == []


async def test_a_reconnect_holds_strategies_and_repairs_what_the_gap_lost(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    lost: list[int] = []

    def trade_while_nobody_listens() -> None:  # the sim drops events nobody listens to
        result = sim.submit_order(
            symbol="BTCUSDT",
            side=Side.SELL,
            order_type=OrderType.MARKET,
            quantity=Decimal("0.004"),
            price=None,
            time_in_force=TimeInForce.GTC,
            reduce_only=False,
            client_order_id=None,
        )
        lost.append(result.final.order_id)

    plugin, probe = recon(), Probe()
    log = StreamLog(on_user_down=trade_while_nobody_listens)
    # the log is registered first, so it hears each status after reconciliation acted on it
    bot = await sim_bot(
        plugins={"log": log, "reconciliation": plugin, "strategy:probe": probe}, sim=sim
    )
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    await manual_clock.advance(1.0)  # polls' snapshots are past the startup run's
    sim.set_faults(disconnect_every=0.2)
    await until(lambda: lost)  # no event of it ever reaches the bot
    await manual_clock.advance(1.0)  # later polls' snapshots are past the lost trade
    # The bot knew it was blind (degraded mode): the poll when the stream is back takes in
    # what the gap lost (the position, the balance, the trade) as news, not drift.
    await drive(plugin, manual_clock, lambda: plugin.degraded_totals.learned >= 3)
    sim.set_faults(disconnect_every=0.0)
    await drive(plugin, manual_clock, lambda: not plugin.busy and not plugin.degraded)

    assert [r.mismatches for r in probe.results if r.mismatches] == []
    assert differences(bot.ctx.cache, sim) == []
    assert bot.account.stats.fills >= 1
    assert bot.ctx.trading_held == ""
    assert log.held  # every user-data resync request held the strategies at once
    assert all(why.startswith("reconciliation: ") for why in log.held)
    # ... and so did every drop: nothing trades on a cache that misses events
    assert log.held_while_down
    assert all(why == "reconciliation: user_data disconnected" for why in log.held_while_down)
    resynced = [s for s in log.statuses if s.state is StreamState.RESYNCED]
    assert {s.stream for s in resynced} == {"user_data"}
    assert "reconciled: ok" in {s.reason for s in resynced}


async def test_a_failing_periodic_run_is_reported_and_the_bot_goes_on(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    plugin = recon(interval=60.0)
    bot = await sim_bot(plugins={"reconciliation": plugin}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    good_at = plugin.metrics()["last_good_at"]
    sim.set_faults(rest_error_rate=1.0)
    await manual_clock.advance(60)  # the periodic job
    await until(lambda: plugin.stats.runs >= 2)
    result = plugin.last_result
    assert result is not None
    assert (result.status, result.reason) == ("error", "interval")
    assert "Error" in result.error
    assert bot.ctx.trading_held == ""  # a periodic failure holds nothing
    assert plugin.metrics()["last_good_at"] == good_at
    assert plugin.metrics()["seconds_since_good"] == 60
    await manual_clock.advance(30)
    assert not plugin.busy  # no retry before the next cycle
    sim.set_faults(rest_error_rate=0.0)
    assert (await reconcile(bot, plugin, manual_clock, sim)).status == "ok"
    assert bot.scheduler.stats()["reconciliation.run"].failures == 0


async def test_requests_during_a_run_coalesce_into_one_follow_up_run(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    plugin = recon()
    bot = await sim_bot(plugins={"reconciliation": plugin}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    sim.set_faults(drop_user_events=1.0)
    await sim.place_order("BTCUSDT", "BUY", "0.004")  # so the next run waits to confirm
    await exchange_time_passes(sim, manual_clock)
    first = asyncio.ensure_future(plugin.reconcile_now("first"))
    await until(lambda: plugin.phase == "confirming")
    later = [asyncio.ensure_future(plugin.reconcile_now(f"later {i}")) for i in range(3)]
    assert bot.scheduler.trigger("reconciliation.run")
    plugin.on_stream_state(
        bot.ctx,
        StreamStatus(
            stream="user_data", state=StreamState.CONNECTED, at=0, reason="x", needs_resync=True
        ),
    )
    await asyncio.sleep(0.05)
    assert plugin.stats.runs == 1  # nothing overlaps the run under way
    await drive(plugin, manual_clock, lambda: first.done() and all(f.done() for f in later))
    await drive(plugin, manual_clock, lambda: not plugin.busy)
    assert plugin.stats.runs == 3  # the first, and one follow-up for everything else
    follow_up = later[0].result()
    assert all(f.result() is follow_up for f in later)
    assert sorted(follow_up.reason.split(", ")) == [
        "interval",
        "later 0",
        "later 1",
        "later 2",
        "resync: user_data x",
    ]
    assert first.result().status == "warning"
    assert follow_up.status == "ok"
    sim.set_faults(drop_user_events=0.0)


async def test_market_stream_reconnects_need_no_reconcile(
    sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    plugin = recon()
    bot = await sim_bot(plugins={"reconciliation": plugin})
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    plugin.on_stream_state(
        bot.ctx,
        StreamStatus(stream="market", state=StreamState.CONNECTED, at=0, needs_resync=True),
    )
    assert not plugin.busy
    assert bot.ctx.trading_held == ""


async def test_without_an_exchange_reconciliation_is_off_and_holds_nothing(
    bot_factory: BotFactory,
) -> None:
    plugin, probe = ReconciliationPlugin(), Probe()
    bot = await bot_factory(plugins={"reconciliation": plugin, "strategy:probe": probe})
    assert bot.ctx.trading_held == ""
    assert "reconciliation.run" not in bot.scheduler.stats()
    assert plugin.stats.runs == 0


async def test_rest_calls_and_weight_of_a_run(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    """docs/reconciliation.md's budget: time + balance + positionRisk, + openOrders per symbol
    that has a position or open orders, + one trade-list page per symbol swept."""
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    plugin = recon()
    bot = await sim_bot(plugins={"reconciliation": plugin}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    rest = bot.ctx.exchange.rest  # type: ignore[attr-defined]

    async def one_run() -> tuple[int, int, int]:
        before, limiter = rest.stats.requests, sim.limiter.used_weight("127.0.0.1", sim.clock())
        result = await reconcile(bot, plugin, manual_clock, sim)
        used = sim.limiter.used_weight("127.0.0.1", sim.clock()) - limiter
        return rest.stats.requests - before, result.weight_used, used

    # a quiet account: no orders to list; the trade lists of exchange.symbols (2 x 5)
    assert await one_run() == (5, 21, 21)
    await sim.place_order("BTCUSDT", "BUY", "0.004")
    quote = sim.engine.quote("ETHUSDT")
    await sim.place_order("ETHUSDT", "BUY", "0.02", order_type="LIMIT", price=quote.bid - 10)
    await until(lambda: bot.ctx.cache.open_orders and bot.ctx.cache.position("BTCUSDT"))
    assert await one_run() == (7, 23, 23)  # + openOrders of BTCUSDT and ETHUSDT
    assert plugin.metrics()["weight_used"] == 21 + 21 + 23


class FillLog:
    """Every ``on_fill`` it was sent."""

    def __init__(self) -> None:
        self.fills: list[Fill] = []

    @hookimpl
    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


async def test_a_fill_whose_event_was_lost_is_read_back_from_the_trade_list(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    # the per-order read-back alone (the per-symbol sweep: test_fills_sweep.py)
    plugin, log = recon(max_trade_queries=0), FillLog()
    bot = await sim_bot(plugins={"reconciliation": plugin, "fill_log": log}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    quote = sim.engine.quote("BTCUSDT")
    placed = await sim.place_order(
        "BTCUSDT", "BUY", "0.002", order_type="LIMIT", price=quote.bid - 50
    )
    await until(lambda: len(bot.ctx.cache.open_orders) == 1)  # its NEW event arrived
    sim.set_faults(drop_user_events=1.0)
    await sim.move_price("BTCUSDT", quote.bid - 100)  # the resting order fills: events lost
    [trade] = sim.engine.trades
    sim.set_faults(drop_user_events=0.0)
    result = await reconcile(bot, plugin, manual_clock, sim)

    found = {m.kind: m for m in result.mismatches}
    assert "order_extra" in found  # the order was queried: FILLED
    lost = found["fill_missing"]
    order_id = placed["orderId"]
    assert (lost.key, lost.repaired) == (f"BTCUSDT:{order_id}:{trade.trade_id}", True)
    assert lost.exchange_time == trade.time
    [fill] = log.fills  # on_fill reached the plugins, once
    assert (fill.order_id, fill.trade_id, fill.qty, fill.price) == (
        order_id,
        trade.trade_id,
        trade.qty,
        trade.price,
    )
    assert fill.client_order_id == placed["clientOrderId"]  # from the cache's order
    assert (fill.fee, fill.realized_pnl, fill.is_maker) == (
        trade.commission,
        trade.realized_pnl,
        True,
    )
    assert bot.ctx.cache.fill_count == 1
    assert bot.ctx.cache.fees == {"USDT": trade.commission}
    assert bot.account.fill_gaps(result.snapshot_time) == []
    assert differences(bot.ctx.cache, sim) == []
    assert result.weight_used >= 5  # the trade list (userTrades, weight 5)

    # nothing is missing any more: the next run lists no trades and reports no fill
    again = await reconcile(bot, plugin, manual_clock, sim)
    assert again.status == "ok"
    assert plugin.metrics()["fill_queries"] == 1
    assert len(log.fills) == 1


async def test_fills_from_before_the_bot_watched_are_history_not_drift(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(
        clock=manual_clock.time, updates_per_second=0, balances={"USDT": Decimal(1_000_000)}
    )
    quote = sim.engine.quote("BTCUSDT")
    # before the bot starts: a resting order fills in part (it stays open, partly filled)
    placed = await sim.place_order(
        "BTCUSDT", "BUY", "50.000", order_type="LIMIT", price=quote.bid - 50
    )
    await sim.move_price("BTCUSDT", quote.bid - 100)
    await sim.move_price("BTCUSDT", quote.bid)
    await manual_clock.advance(1.0)  # the bot starts later
    plugin, log = recon(), FillLog()
    bot = await sim_bot(plugins={"reconciliation": plugin, "fill_log": log}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    order = bot.account.order("BTCUSDT", placed["orderId"])
    result = await reconcile(bot, plugin, manual_clock, sim)

    assert result.status == "ok", result.mismatches
    assert log.fills == []
    assert plugin.metrics()["fill_queries"] == 0  # seeded with its filled quantity
    assert order is not None
    assert order.executed_qty > 0  # seeded with fills the bot never saw
    assert bot.account.fill_gaps(result.snapshot_time) == []
