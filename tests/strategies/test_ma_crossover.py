"""The moving-average crossover example, against the embedded simulator (prices moved by hand)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from framework import BotContext, OrderRequest, Tick, hookimpl
from framework.errors import SettingsError
from framework.testing import BotFactory
from plugins.sim import SimExchange
from plugins.sim.prices import units_to_str
from plugins.sim.testing import until
from strategies.ma_crossover import MACrossover, MACrossoverParams, _InFlight
from tests.strategies.helpers import (
    SYMBOL,
    assert_summary_matches_trades,
    move,
    position,
    ready,
    sim_settings,
    strategy,
)

PARAMS = "strategies[0].params"  # cross-field checks name the block; the message names the key
NO_EXCHANGE = {"plugins": {"binance": {"enabled": False}, "smart_logging": {"enabled": False}}}


def ma(params: dict[str, Any] | None = None, **risk: str) -> dict[str, Any]:
    """A ``strategies:`` entry: every tick is a sample, fast 2 / slow 4 samples."""
    return {
        "id": "ma",
        "use": "ma_crossover",
        "params": {
            "symbol": SYMBOL,
            "fast": 2,
            "slow": 4,
            "interval": 0,
            "warm_up": "",  # from ticks: these tests count their own samples
            **(params or {}),
        },
        "risk": risk or {"max_position": "0.004", "max_order_notional": "1000"},
    }


def crossover(bot: Any) -> MACrossover:
    found = strategy(bot, "ma")
    assert isinstance(found, MACrossover)
    return found


def tick(n: int, mid: str, ms: int) -> Tick:
    price = Decimal(mid)
    return Tick(
        symbol=SYMBOL,
        bid=price,
        bid_qty=Decimal(1),
        ask=price,
        ask_qty=Decimal(1),
        event_time=ms,
        update_id=n,
    )


# ------------------------------------------------------------------------------ params


@pytest.mark.parametrize(
    ("params", "key", "message"),
    [
        ({"fast": 20, "slow": 5}, f"{PARAMS}.slow", "slow (5) must be greater than fast (20)"),
        ({"fast": 5, "slow": 5}, f"{PARAMS}.slow", "slow (5) must be greater than fast (5)"),
        ({"quantity": "0"}, f"{PARAMS}.quantity", "a number > 0"),
        ({"fast": 0}, "strategies[0].params.fast", ">= 1"),
        ({"symbol": "btcusdt"}, "strategies[0].params.symbol", "matching regex"),
        ({"mode": "short_only"}, "strategies[0].params.mode", "short_only"),
        ({"colour": "red"}, "strategies[0].params.colour", "unknown key"),
    ],
)
async def test_params_are_validated_naming_the_key(
    bot_factory: BotFactory, params: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(SettingsError) as info:
        await bot_factory({**NO_EXCHANGE, "strategies": [ma(params)]})
    assert info.value.key == key
    assert message in str(info.value)


def test_defaults_are_valid_and_risk_limits_are_declared() -> None:
    params = MACrossoverParams()
    assert (params.fast, params.slow, params.mode) == (5, 15, "long_short")
    assert MACrossover.risk.max_position is not None
    assert MACrossover.risk.max_order_notional is not None


# ------------------------------------------------------------------------- no exchange


async def test_without_an_exchange_it_samples_and_never_trades(bot_factory: BotFactory) -> None:
    bot = await bot_factory(
        {**NO_EXCHANGE, "strategies": [ma({"interval": 1.0})]}, entry_points=True
    )
    strat = crossover(bot)
    # Samples one tick per second of exchange time: the ticks at 0.5 s and 1.5 s are skipped.
    now = int(time.time() * 1000)  # fresh ticks by the bot's (system) clock
    for n, (mid, ms) in enumerate(
        [("100", 0), ("100", 500), ("100", 1000), ("100", 1500), ("100", 2000), ("110", 3000)]
    ):
        bot.ctx.hooks.on_tick(tick(n, mid, now + ms))
    assert strat.stats["samples"] == 4
    assert strat.signal == 1  # 110 lifted the fast mean above the slow one
    assert strat.in_flight is None
    summary = await bot.stop()
    assert summary["strategies"]["ma"] == {
        "state": "running",
        "paused_by": "",
        "reason": "",
        "orders": {},
    }
    assert summary["plugin_errors"] == {}


# ------------------------------------------------------------------------ on the simulator


async def test_crossovers_place_the_right_side_and_the_summary_matches_the_exchange(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_factory(sim_settings(tmp_path, ma()), entry_points=True)
    sim = await ready(bot)
    strat = crossover(bot)
    for _ in range(4):  # warm-up on a flat price: both means equal, no opinion
        await move(bot, "65000")
    assert strat.stats["samples"] == 4
    assert strat.signal == 0
    assert sim.engine.trades == []

    await move(bot, "65100")  # fast (65050) above slow (65025): long 0.002
    await until(lambda: position(bot) == Decimal("0.002") and strat.in_flight is None)
    assert [(t.side.value, t.qty) for t in sim.engine.trades] == [("BUY", Decimal("0.002"))]

    await move(bot, "64900")  # fast 65000 = slow 65000: no opinion, the long stays
    assert strat.signal == 1
    await move(bot, "64800")  # fast 64850 below slow 64950: reverse to short 0.002
    await until(lambda: position(bot) == Decimal("-0.002") and strat.in_flight is None)
    assert [(t.side.value, t.qty) for t in sim.engine.trades] == [
        ("BUY", Decimal("0.002")),
        ("SELL", Decimal("0.004")),
    ]
    assert sim.truth().positions[SYMBOL].amount == Decimal("-0.002")

    await move(bot, "64800")  # still short: nothing more to do
    assert strat.in_flight is None
    assert len(sim.engine.trades) == 2

    trades = list(sim.engine.trades)
    summary = await bot.stop()
    assert summary["orders"]["placed"] == 2
    assert summary["strategies"]["ma"]["orders"] == {"placed": 2}
    assert summary["strategy:ma"]["crossovers"] == 2
    assert_summary_matches_trades(summary, trades)
    assert trades[1].realized_pnl == (trades[1].price - trades[0].price) * Decimal("0.002")
    assert summary["plugin_errors"] == {}


async def test_long_flat_closes_with_a_reduce_only_sell(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_factory(sim_settings(tmp_path, ma({"mode": "long_flat"})), entry_points=True)
    sim = await ready(bot)
    strat = crossover(bot)
    for price in ("65000", "65000", "65000", "65000", "64900"):  # below: flat, nothing to do
        await move(bot, price)
    assert strat.signal == -1
    assert sim.engine.trades == []
    for price in ("65100", "65200"):
        await move(bot, price)
    await until(lambda: position(bot) == Decimal("0.002") and strat.in_flight is None)
    for price in ("65000", "64800"):
        await move(bot, price)
    await until(lambda: not bot.ctx.cache.positions and strat.in_flight is None)
    assert [(t.side.value, t.qty) for t in sim.engine.trades] == [
        ("BUY", Decimal("0.002")),
        ("SELL", Decimal("0.002")),
    ]
    trades = list(sim.engine.trades)
    summary = await bot.stop()
    assert summary["cache"]["positions"] == {}
    assert_summary_matches_trades(summary, trades)


async def test_a_refused_order_is_logged_and_skipped_then_retried(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    # 0.002 BTC at 65000 is 130 USDT: above this instance's max_order_notional.
    settings = sim_settings(tmp_path, ma(max_order_notional="100"))
    bot = await bot_factory(settings, entry_points=True)
    sim = await ready(bot)
    strat = crossover(bot)
    for price in ("65000", "65000", "65000", "65000", "65100"):
        await move(bot, price)
    await until(lambda: strat.stats["skipped"] == 1 and strat.in_flight is None)
    await move(bot, "65150")  # the next sample tries again, and is refused again
    await until(lambda: strat.stats["skipped"] == 2 and strat.in_flight is None)
    assert sim.engine.trades == []
    assert bot.ctx.strategy_paused("ma") == ""
    summary = await bot.stop()
    assert summary["orders"]["refused"] == 2
    assert summary["orders"]["placed"] == 0
    assert summary["strategies"]["ma"]["state"] == "running"


async def test_an_order_refused_because_strategies_are_held_is_skipped(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_factory(sim_settings(tmp_path, ma()), entry_points=True)
    sim = await ready(bot)
    strat = crossover(bot)
    for price in ("65000", "65000", "65000", "65000"):
        await move(bot, price)
    # A resync hold starts after the tick reached the strategy, before its order left: the
    # hook runs (called directly, as the bus would have just before the hold), the order task
    # finds strategies held.
    release = bot.ctx.hold_strategies("test resync")
    last = bot.ctx.last_ticks[SYMBOL]
    strat.on_tick(bot.ctx, tick(1, str(last.mid + 100), last.event_time + 1))
    await until(lambda: strat.stats["skipped"] == 1 and strat.in_flight is None)
    assert sim.engine.trades == []
    release()
    await move(bot, "65200")  # released: the next sample trades
    await until(lambda: position(bot) == Decimal("0.002"))
    assert bot.ctx.strategy_paused("ma") == ""
    summary = await bot.stop()
    assert summary["orders"]["refused"] == 1
    assert summary["orders"]["placed"] == 1


async def test_one_order_in_flight_at_a_time(bot_factory: BotFactory, tmp_path: Path) -> None:
    # The simulator delays user-data events: while the long's fill and position update are on
    # their way, more samples arrive; none of them may send a second order.
    late = {"user_event_delay": 0.5, "faults": {"delay_user_events": 1.0}}
    settings = sim_settings(tmp_path, ma(), **late)
    bot = await bot_factory(settings, entry_points=True)
    sim = await ready(bot)
    strat = crossover(bot)
    for price in ("65000", "65000", "65000", "65000", "65100", "65200", "65300"):
        await move(bot, price)
    await until(lambda: position(bot) == Decimal("0.002"))
    await move(bot, "65400")  # the position arrived: the next sample settles, nothing to do
    assert (strat.in_flight, strat.expected) == (None, None)
    assert len(sim.engine.trades) == 1
    assert bot.ctx.orders("ma").stats["placed"] == 1


async def test_params_struct_is_usable_from_python() -> None:
    params = MACrossoverParams(symbol="ETHUSDT", fast=3, slow=9, quantity=Decimal("0.05"))
    strat = MACrossover(params)
    assert strat.prices.maxlen == 9
    with pytest.raises(ValueError, match="slow"):
        MACrossoverParams(fast=9, slow=3)
    request = OrderRequest(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=params.quantity)
    assert request.quantity == Decimal("0.05")


async def test_a_late_update_of_the_last_order_is_not_taken_for_the_next(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_factory(sim_settings(tmp_path, ma()), entry_points=True)
    await ready(bot)
    strat = crossover(bot)
    for price in ("65000", "65000", "65000", "65000", "65100"):
        await move(bot, price)
    await until(lambda: position(bot) == Decimal("0.002") and strat.in_flight is None)
    (last_id,) = strat.finished
    last = await bot.ctx.orders("ma").query(SYMBOL, last_id)
    assert last is not None
    assert last.status == "FILLED"
    # The next order has left, its REST answer is not back (no client order id known yet),
    # and the previous order's FILLED update shows up late: it must not finish the new one.
    sell = OrderRequest(symbol=SYMBOL, side="SELL", type="MARKET", quantity=Decimal("0.004"))
    strat.in_flight = _InFlight(sell, Decimal("0.002"), strat.now_ms)
    strat.on_order_update(bot.ctx, last)
    assert strat.in_flight is not None
    strat.in_flight = None


# ------------------------------------------------------------------------ warm-up from history


async def test_it_warms_up_from_history_and_decides_on_the_first_tick(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    """Before the first tick the window holds the simulator's last closed 1m closes, so the
    first tick already decides (and trades); cold, the same tick is only sample 1 of 4."""
    warm = await bot_factory(sim_settings(tmp_path, ma({"warm_up": "1m"})), entry_points=True)
    sim = await ready(warm)
    strat = crossover(warm)
    assert warm.ctx.last_ticks == {}  # no tick yet (prices move only when the test moves them)
    minutes = sim.candles[SYMBOL].series["1m"].closed
    assert list(strat.prices) == [Decimal(units_to_str(c.close, 2)) for c in list(minutes)[-4:]]
    assert strat.stats["warm_up_candles"] == 4
    assert strat.stats["samples"] == 0

    await move(warm, "66000")  # far above the recent closes: fast above slow at once
    assert strat.stats["samples"] == 1
    assert strat.signal == 1
    await until(lambda: position(warm) == Decimal("0.002") and strat.in_flight is None)
    await warm.stop()

    cold = await bot_factory(sim_settings(tmp_path / "cold", ma()), entry_points=True)
    await ready(cold)
    await move(cold, "66000")
    assert crossover(cold).signal == 0  # one sample of four: no opinion yet
    assert crossover(cold).stats["warm_up_candles"] == 0
    await cold.stop()


class InsaneKlines:
    """Makes the embedded simulator answer every klines request with a NaN close (started after
    the simulator, before the strategies warm up)."""

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        @asynccontextmanager
        async def run() -> AsyncIterator[None]:
            sim = getattr(ctx.plugin("sim"), "exchange", None)
            assert isinstance(sim, SimExchange)
            sim.tamper_rest = lambda method, path, result: (
                b'[[0,"1","2","0","NaN","1",59999,"1",1,"0","0","0"]]'
                if path == "/fapi/v1/klines"
                else result
            )
            yield

        return run()


async def test_without_history_it_starts_cold(bot_factory: BotFactory, tmp_path: Path) -> None:
    """An exchange whose history is refused: logged, and the ticks fill the window instead."""
    bot = await bot_factory(
        sim_settings(tmp_path, ma({"warm_up": "1m"})),
        plugins={"insane_klines": InsaneKlines()},
        entry_points=True,
    )
    await ready(bot)
    strat = crossover(bot)
    assert list(strat.prices) == []
    assert bot.ctx.strategy_stats()["ma"]["state"] == "running"
    for price in ("65000", "65000", "65000", "65100"):
        await move(bot, price)
    assert strat.signal == 1  # warmed up from ticks instead
    summary = await bot.stop()
    assert summary["plugin_errors"] == {}


async def test_warm_up_interval_is_validated(bot_factory: BotFactory) -> None:
    with pytest.raises(SettingsError) as info:
        await bot_factory({**NO_EXCHANGE, "strategies": [ma({"warm_up": "2m"})]})
    assert info.value.key == f"{PARAMS}.warm_up"
    assert "one of 1m, 3m" in str(info.value)
