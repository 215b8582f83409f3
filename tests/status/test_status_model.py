"""The model with real bots: trading on the simulator, and hooks through the real bus."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec

from framework import (
    Fill,
    ManualClock,
    Mismatch,
    OrderRequest,
    PluginError,
    ReconcileResult,
    StreamState,
    StreamStatus,
    Tick,
)
from framework.testing import BotFactory, HookRecorder
from plugins.binance import BinancePlugin
from plugins.sim import parse_sim_settings
from plugins.sim.plugin import SimPlugin
from plugins.status import RateMeter, StatusPlugin, StatusSettings
from tests.binance.helpers import FAST_CONFIG, until

from .helpers import T0

OFF = StatusSettings(mode="off")
QTY = Decimal("0.010")


def sim_overrides(tmp_path: Path) -> dict[str, object]:
    return {
        "runtime": {"data_dir": str(tmp_path)},
        "exchange": {"symbols": ["BTCUSDT"]},
    }


def market(side: str) -> OrderRequest:
    return OrderRequest(symbol="BTCUSDT", side=side, type="MARKET", quantity=QTY)  # type: ignore[arg-type]


async def test_positions_pnl_fees_and_streams_of_a_bot_trading_on_the_simulator(
    bot_factory: BotFactory, hook_recorder: HookRecorder, tmp_path: Path
) -> None:
    status = StatusPlugin(OFF)
    bot = await bot_factory(
        sim_overrides(tmp_path),
        plugins={
            "sim": SimPlugin(
                parse_sim_settings({"updates_per_second": 20, "user_event_delay": 0.05})
            ),
            "binance": BinancePlugin(FAST_CONFIG),
            "status": status,
        },
    )
    hook_recorder.attach(bot)
    ctx = bot.ctx
    await until(lambda: "BTCUSDT" in ctx.last_ticks)

    await ctx.exchange.place_order(market("BUY"))
    await until(
        lambda: (
            ctx.cache.fill_count == 1
            and ctx.cache.position("BTCUSDT") is not None
            and not ctx.cache.open_orders
        )
    )
    tick = ctx.last_ticks["BTCUSDT"]
    snap = status.snapshot()  # same loop turn: the tick above is the mark
    position = ctx.cache.position("BTCUSDT")
    assert position is not None
    (row,) = snap.positions
    assert (row.symbol, row.side, row.amount) == ("BTCUSDT", "BOTH", QTY)
    assert row.entry_price == position.entry_price
    assert row.mark_price == tick.mid == (tick.bid + tick.ask) / 2
    assert row.unrealized_pnl == (tick.mid - position.entry_price) * QTY
    assert snap.unrealized_pnl == row.unrealized_pnl
    usdt = ctx.cache.balances["USDT"].wallet_balance
    assert (snap.equity_asset, snap.equity) == ("USDT", usdt + row.unrealized_pnl)
    (opening,) = [call["fill"] for call in hook_recorder.of("on_fill")]
    assert opening.price == position.entry_price
    assert snap.realized_pnl == opening.realized_pnl == 0
    assert snap.fees == (("USDT", opening.fee),)
    assert opening.fee > 0
    assert snap.fills == 1
    assert snap.open_orders == 0
    assert snap.exchange == "binance_futures (simulated)"
    assert [b.asset for b in snap.balances] == ["USDT"]
    assert snap.balances[0].wallet_balance == ctx.cache.balances["USDT"].wallet_balance
    assert {(s.stream, s.state, s.reconnects) for s in snap.streams} == {
        ("market", "connected", 0),
        ("user_data", "connected", 0),
    }
    assert snap.reconcile is None
    assert not snap.reconciliation_enabled
    assert snap.plugin_errors == snap.disabled_plugins == ()

    await ctx.exchange.place_order(market("SELL"))
    await until(lambda: ctx.cache.fill_count == 2 and ctx.cache.position("BTCUSDT") is None)
    snap = status.snapshot()
    fills: list[Fill] = [call["fill"] for call in hook_recorder.of("on_fill")]
    closing = fills[1]
    assert snap.positions == ()
    assert snap.unrealized_pnl == 0
    assert snap.realized_pnl == closing.realized_pnl == (closing.price - opening.price) * QTY
    assert snap.fees == (("USDT", opening.fee + closing.fee),)
    assert snap.fills == 2


async def test_no_exchange_no_reconciliation_no_ticks(
    bot_factory: BotFactory, manual_clock: ManualClock
) -> None:
    status = StatusPlugin(OFF)
    await bot_factory(plugins={"status": status}, clock=manual_clock)
    await manual_clock.advance(90)
    snap = status.snapshot()
    assert snap.exchange == ""
    assert snap.uptime_s == 90
    assert (snap.positions, snap.balances, snap.streams, snap.fees) == ((), (), (), ())
    assert snap.reconcile is None
    assert not snap.reconciliation_enabled
    assert snap.ticks_per_s is None  # snapshot() without a meter has no rates


async def test_reconcile_streams_and_plugin_errors_arrive_through_hooks(
    bot_factory: BotFactory, manual_clock: ManualClock
) -> None:
    status = StatusPlugin(OFF)
    bot = await bot_factory(plugins={"status": status}, clock=manual_clock)
    hooks = bot.ctx.hooks
    drift = Mismatch(
        kind="balance_amount",
        key="USDT",
        cache_value="100",
        exchange_value="90",
        cache_time=1,
        exchange_time=2,
        repaired=True,
    )
    await manual_clock.advance(10)
    hooks.on_reconcile_result(
        ReconcileResult(status="ok", reason="start", snapshot_time=1, duration_s=0.1)
    )
    await manual_clock.advance(20)
    hooks.on_reconcile_result(
        ReconcileResult(
            status="warning",
            reason="schedule",
            snapshot_time=2,
            duration_s=0.2,
            mismatches=(drift, drift),
        )
    )
    for state, at, resync in (
        (StreamState.CONNECTED, T0 + 1, False),
        (StreamState.DISCONNECTED, T0 + 15, False),
        (StreamState.CONNECTED, T0 + 16, True),
    ):
        hooks.on_stream_state(
            StreamStatus(stream="user_data", state=state, at=at, needs_resync=resync)
        )
    hooks.on_stream_state(
        StreamStatus(stream="market", state=StreamState.STALE, at=T0 + 25, reason="silent 60 s")
    )
    bot.bus.report_failure("journal", "on_fill", OSError("disk full"))
    await manual_clock.advance(5)

    snap = status.snapshot()
    info = snap.reconcile
    assert info is not None
    assert (info.at, info.status, info.mismatches, info.repaired) == (T0 + 30, "warning", 2, 2)
    assert (info.runs, info.mismatches_total, info.reason) == (2, 2, "schedule")
    market, user = snap.streams
    assert (market.stream, market.state, market.reason) == ("market", "stale", "silent 60 s")
    assert (user.state, user.since, user.reconnects, user.needs_resync) == (
        "connected",
        T0 + 16,
        1,
        True,
    )
    assert snap.plugin_errors == (("journal", 1),)
    assert snap.last_error == "journal.on_fill: OSError: disk full"
    assert isinstance(status.model.last_error, PluginError)


async def test_events_per_second_from_the_hook_counts(
    bot_factory: BotFactory, manual_clock: ManualClock
) -> None:
    status = StatusPlugin(StatusSettings(mode="log", log_interval=10.0))
    bot = await bot_factory(plugins={"status": status}, clock=manual_clock)
    hooks = bot.ctx.hooks
    tick = Tick(
        symbol="BTCUSDT",
        bid=Decimal(100),
        bid_qty=Decimal(1),
        ask=Decimal(102),
        ask_qty=Decimal(1),
        event_time=int(manual_clock.time() * 1000),
    )
    fill = Fill(
        symbol="BTCUSDT",
        order_id=1,
        trade_id=1,
        client_order_id="x",
        side="BUY",
        price=Decimal(101),
        qty=Decimal(1),
        fee=Decimal("0.04"),
        fee_asset="USDT",
        realized_pnl=Decimal("1.5"),
        is_maker=False,
        event_time=1,
    )
    for _ in range(50):
        hooks.on_tick(tick)
    for trade_id in range(1, 6):  # through the cache, as the connector delivers fills
        bot.account.apply_fill(msgspec.structs.replace(fill, trade_id=trade_id))
    await manual_clock.advance(10)  # the log job runs once
    snap = status.last_snapshot
    assert snap is not None
    assert (snap.ticks_per_s, snap.account_events_per_s) == (5.0, 0.5)
    assert snap.realized_pnl == Decimal("7.5")
    assert snap.fees == (("USDT", Decimal("0.20")),)
    await manual_clock.advance(10)  # nothing happened in the last window
    assert status.last_snapshot is not snap
    assert (status.last_snapshot.ticks_per_s, status.last_snapshot.account_events_per_s) == (0, 0)


def test_rate_meter_window() -> None:
    meter = RateMeter(window=10)
    assert meter.update(0, (0,)) == (None,)
    assert meter.update(0, (0,)) == (None,)  # no time has passed
    assert meter.update(5, (50,)) == (10.0,)
    assert meter.update(10, (100,)) == (10.0,)
    assert meter.update(15, (100,)) == (5.0,)  # over 5..15
    assert meter.update(20, (100,)) == (0.0,)  # over 10..20
    assert meter.update(19, (100,)) == (None,)  # the clock went back: start again


async def test_each_strategy_instance_is_running_held_or_paused_and_why(
    bot_factory: BotFactory,
) -> None:
    status = StatusPlugin(OFF)
    use = "tests.strategy.doubles:Recorder"
    bot = await bot_factory(
        {
            "plugins": {"binance": {"enabled": False}, "smart_logging": {"enabled": False}},
            "strategies": [
                {"id": "bad", "use": use, "params": {"fail_on_tick": True}},
                {"id": "good", "use": use},
            ],
        },
        plugins={"status": status},
    )
    states = [(r.strategy, r.state, r.reason) for r in status.snapshot().strategies]
    assert states == [("bad", "running", ""), ("good", "running", "")]
    bot.ctx.hooks.on_tick(
        Tick(
            symbol="BTCUSDT",
            bid=Decimal(1),
            bid_qty=Decimal(1),
            ask=Decimal(1),
            ask_qty=Decimal(1),
            event_time=int(bot.ctx.clock.time() * 1000),  # fresh: older ticks are dropped
            update_id=1,
        )
    )
    release = bot.ctx.hold_strategies("reconciling")
    (bad, good) = status.snapshot().strategies
    assert (bad.state, good.state, good.reason) == ("paused", "held", "reconciling")
    assert "RuntimeError in on_tick" in bad.reason
    release()
    assert status.snapshot().strategies[1].state == "running"
