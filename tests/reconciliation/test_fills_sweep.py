"""Every trade of the account reaches the cache exactly once (issue 13 item 6): the REST
acknowledgement of the bot's own orders is applied, reconciliation sweeps the trade list per
symbol from the last known trade id, and trades made while the bot was down are recorded at
restart. Against the simulator over loopback, with the real connector and cache."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from framework import ManualClock
from framework.testing import BotFactory
from framework.types import OrderRequest
from plugins.journal import Journal
from plugins.sim.testing import SimBotFactory, SimFactory
from tests.reporting_support import DAY_START, start_bot, start_sim, until

from .helpers import (
    FillRecorder,
    drive,
    exchange_trades,
    recon,
    reconcile,
    totals,
    trade_totals,
)


async def test_an_order_whose_every_event_is_lost_is_known_from_its_acknowledgement(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    plugin = recon()
    bot = await sim_bot(plugins={"reconciliation": plugin}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    sim.set_faults(drop_user_events=1.0)
    price = sim.engine.quote("BTCUSDT").bid - 50
    placed = await bot.ctx.exchange.place_order(
        OrderRequest(
            symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.002"), price=price
        )
    )
    held = bot.account.order("BTCUSDT", placed.order_id)
    assert held is not None
    assert held.status == "NEW"
    assert held.event_time == placed.event_time  # the exchange's updateTime
    assert ("BTCUSDT", placed.order_id) in bot.ctx.cache.open_orders

    market = await bot.ctx.exchange.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.002"))
    )
    filled = bot.account.order("BTCUSDT", market.order_id)
    assert filled is not None
    assert filled.status == "FILLED"

    canceled = await bot.ctx.exchange.cancel_order("BTCUSDT", placed.client_order_id)
    assert canceled.status == "CANCELED"
    assert ("BTCUSDT", placed.order_id) not in bot.ctx.cache.open_orders
    gone = bot.account.order("BTCUSDT", placed.order_id)
    assert gone is not None
    assert gone.status == "CANCELED"


async def test_trades_of_an_order_the_cache_never_heard_of_are_swept_in_once(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    plugin, log = recon(), FillRecorder()
    bot = await sim_bot(plugins={"reconciliation": plugin, "fill_log": log}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    sim.set_faults(drop_user_events=1.0)
    # someone trades on the account outside the bot, and every event of it is lost
    await sim.place_order("ETHUSDT", "BUY", "0.02")
    await sim.place_order("ETHUSDT", "SELL", "0.01")
    sim.set_faults(drop_user_events=0.0)
    result = await reconcile(bot, plugin, manual_clock, sim)

    assert log.recorded() == exchange_trades(sim)
    assert len(log.fills) == 2
    lost = [m for m in result.mismatches if m.kind == "fill_missing"]
    assert [m.key for m in lost] == [
        f"ETHUSDT:{t.order_id}:{t.trade_id}" for t in sim.engine.trades
    ]
    assert all(m.repaired for m in lost)
    assert totals(bot.ctx.cache) == trade_totals(sim)
    assert bot.account.trade_cursor("ETHUSDT") == sim.engine.trades[-1].trade_id

    again = await reconcile(bot, plugin, manual_clock, sim)  # nothing new: nothing recorded
    assert again.status == "ok", again.mismatches
    assert len(log.fills) == 2
    assert bot.ctx.cache.fill_count == 2


async def test_a_fresh_start_keeps_older_trades_as_history(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    await sim.place_order("BTCUSDT", "BUY", "0.004")  # before the bot: not this run's
    await sim.place_order("BTCUSDT", "SELL", "0.002")
    await manual_clock.advance(1.0)
    plugin, log = recon(), FillRecorder()
    bot = await sim_bot(plugins={"reconciliation": plugin, "fill_log": log}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    result = plugin.last_result
    assert result is not None
    assert result.status == "ok", result.mismatches
    assert log.fills == []
    assert bot.account.trade_cursor("BTCUSDT") == sim.engine.trades[-1].trade_id
    assert bot.account.trade_cursor("ETHUSDT") is None  # no trade at all: asked again
    assert plugin.metrics()["trade_queries"] == 2  # BTCUSDT and ETHUSDT (exchange.symbols)


async def test_the_sweep_stays_within_its_budget_and_takes_turns(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    plugin, log = recon(max_trade_queries=1), FillRecorder()
    bot = await sim_bot(plugins={"reconciliation": plugin, "fill_log": log}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    assert plugin.metrics()["trade_queries"] == 1
    sim.set_faults(drop_user_events=1.0)
    await sim.place_order("BTCUSDT", "BUY", "0.002")
    await sim.place_order("ETHUSDT", "BUY", "0.01")
    sim.set_faults(drop_user_events=0.0)
    first = await reconcile(bot, plugin, manual_clock, sim)
    second = await reconcile(bot, plugin, manual_clock, sim)

    assert plugin.metrics()["trade_queries"] == 3  # one page per run
    assert [m.key.split(":")[0] for m in first.mismatches if m.kind == "fill_missing"] == [
        "ETHUSDT"  # BTCUSDT was swept at startup, ETHUSDT not yet: its turn
    ]
    assert [m.key.split(":")[0] for m in second.mismatches if m.kind == "fill_missing"] == [
        "BTCUSDT"
    ]
    assert log.recorded() == exchange_trades(sim)


async def test_trades_made_while_the_bot_was_down_are_journaled_on_restart(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    clock = ManualClock(DAY_START + 60)
    sim = await start_sim(clock)
    try:
        first, recon1 = Journal(), recon()
        sb = await start_bot(
            bot_factory, sim, clock, tmp_path, {"journal": first, "reconciliation": recon1}
        )
        await drive(recon1, clock, lambda: recon1.stats.runs >= 1 and not recon1.busy)
        await sb.order("BTCUSDT", "BUY", "0.010")
        await sb.order("ETHUSDT", "BUY", "0.100")
        await sb.bot.stop()
        journaled = len(sim.engine.trades)

        # the bot is down: trades happen on the account (the stream has no listener)
        await clock.advance(600)
        await sim.place_order("BTCUSDT", "SELL", "0.004")
        await sim.place_order("ETHUSDT", "SELL", "0.050")
        bid = sim.engine.quote("BTCUSDT").bid
        await sim.place_order("BTCUSDT", "BUY", "0.002", order_type="LIMIT", price=bid - 50)
        await sim.move_price("BTCUSDT", bid - 100)  # the resting order fills
        await clock.advance(60)
        while_down = sim.engine.trades[journaled:]
        assert len(while_down) == 3

        second, recon2, seen = Journal(), recon(), FillRecorder()
        sb2 = await start_bot(
            bot_factory,
            sim,
            clock,
            tmp_path,
            {"journal": second, "reconciliation": recon2, "fills": seen},
        )
        await drive(recon2, clock, lambda: recon2.stats.runs >= 1 and not recon2.busy)
        startup = recon2.last_result
        assert startup is not None
        assert startup.status == "ok", startup.mismatches  # not drift
        assert recon2.metrics()["fills_while_down"] == 3
        # the plugins were told of each trade made while down, once, and of nothing older
        assert sorted(f.trade_id for f in seen.fills) == [t.trade_id for t in while_down]
        await sb2.order("BTCUSDT", "SELL", "0.008")  # and the bot trades on
        await second.flush()

        fills = await second.store.fills(0, int(clock.time() * 1000) + 1)
        assert sorted((f.symbol, f.order_id, f.trade_id) for f in fills) == sorted(
            (t.symbol, t.order_id, t.trade_id) for t in sim.engine.trades
        )  # the journal ends with every trade, once
        by_id = {f.trade_id: f for f in fills}
        for t in while_down:
            row = by_id[t.trade_id]
            assert (row.run_id, row.qty, row.price, row.fee, row.realized_pnl) == (
                second.run_id,
                t.qty,
                t.price,
                t.commission,
                t.realized_pnl,
            )
        await sb2.bot.stop()
    finally:
        await sim.stop()


@pytest.mark.parametrize("history", [True, False], ids=["cursor", "since-first-run"])
async def test_a_fill_the_journal_never_wrote_before_a_later_one_is_read_back_on_restart(
    bot_factory: BotFactory, tmp_path: Path, history: bool
) -> None:
    """The journal holds a later trade but lacks an earlier one (its stream event was lost and
    the bot died before reconciliation read it back; a SIGKILL before a write does the same):
    the next start reads back from the journal's trade cursor (or, before it has one, from its
    first run's start), records the missing trade once and does not announce the held one
    again."""
    clock = ManualClock(DAY_START + 60)
    sim = await start_sim(clock)
    try:
        if history:  # a trade before the bot ever ran: the first sweep sets the cursor on it
            await sim.place_order("BTCUSDT", "BUY", "0.006")
            await clock.advance(1.0)
        before = len(sim.engine.trades)
        first, recon1 = Journal(), recon()
        sb = await start_bot(
            bot_factory, sim, clock, tmp_path, {"journal": first, "reconciliation": recon1}
        )
        await drive(recon1, clock, lambda: recon1.stats.runs >= 1 and not recon1.busy)
        sim.set_faults(drop_user_events=1.0)
        await sim.place_order("BTCUSDT", "SELL", "0.002")  # its event is lost
        sim.set_faults(drop_user_events=0.0)
        await sim.place_order("BTCUSDT", "SELL", "0.004")  # journaled
        lost, kept = sim.engine.trades[before], sim.engine.trades[before + 1]
        await until(lambda: first.writer.written > 0 and not first.writer.pending)
        await first.flush()
        held = await first.store.fills(0, int(clock.time() * 1000) + 1)
        assert [f.trade_id for f in held] == [kept.trade_id]
        await sb.bot.stop()  # before any reconcile read the lost trade back

        await clock.advance(60)
        second, recon2, seen = Journal(), recon(), FillRecorder()
        sb2 = await start_bot(
            bot_factory,
            sim,
            clock,
            tmp_path,
            {"journal": second, "reconciliation": recon2, "fills": seen},
        )
        await drive(recon2, clock, lambda: recon2.stats.runs >= 1 and not recon2.busy)
        startup = recon2.last_result
        assert startup is not None
        assert startup.status == "ok", startup.mismatches  # made before this run: not drift
        assert [f.trade_id for f in seen.fills] == [lost.trade_id]  # once; the kept one not
        await second.flush()
        fills = await second.store.fills(0, int(clock.time() * 1000) + 1)
        assert sorted(f.trade_id for f in fills) == [lost.trade_id, kept.trade_id]
        cursors = await second.store.trade_cursors()
        assert cursors.cursors["BTCUSDT"] == kept.trade_id  # swept past both, written
        assert cursors.held == ()
        await sb2.bot.stop()
    finally:
        await sim.stop()
