"""The strategy API: holds, pause on exception, risk limits, order ids, summary sections."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from framework import Order, OrderRequest, Tick
from framework.errors import RiskLimitExceeded, ShuttingDown, StrategyPaused, TradingHeld
from framework.runtime import Bot
from framework.testing import BotFactory
from plugins.sim.plugin import SimPlugin
from plugins.sim.testing import until
from tests.strategy.doubles import Recorder, StopTrader

USE = "tests.strategy.doubles:Recorder"
NO_EXCHANGE = {"plugins": {"binance": {"enabled": False}, "smart_logging": {"enabled": False}}}


def tick(n: int, symbol: str = "BTCUSDT", price: str = "100") -> Tick:
    p = Decimal(price)
    return Tick(
        symbol=symbol,
        bid=p,
        bid_qty=Decimal(1),
        ask=p,
        ask_qty=Decimal(1),
        event_time=int(time.time() * 1000),  # fresh by the system clock the bots run on
        update_id=n,
    )


def order(n: int, status: str = "NEW") -> Order:
    return Order(
        symbol="BTCUSDT",
        order_id=n,
        client_order_id=f"x-{n}",
        side="BUY",
        type="LIMIT",
        status=status,
        price=Decimal(1),
        orig_qty=Decimal(1),
        executed_qty=Decimal(0),
        event_time=n,
    )


def strategies(*entries: dict[str, Any]) -> dict[str, Any]:
    return {**NO_EXCHANGE, "strategies": list(entries)}


def recorder(bot: Bot, sid: str) -> Recorder:
    plugin = bot.ctx.plugin(f"strategy:{sid}")
    assert isinstance(plugin, Recorder)
    return plugin


async def test_params_are_validated_from_the_params_struct(bot_factory: BotFactory) -> None:
    from framework.errors import SettingsError

    with pytest.raises(SettingsError) as info:
        await bot_factory(strategies({"id": "a", "use": USE, "params": {"symbol": 3}}))
    assert info.value.key == "strategies[0].params.symbol"


async def test_held_strategy_misses_ticks_and_gets_other_events_in_order(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(strategies({"id": "a", "use": USE}))
    strat = recorder(bot, "a")
    release = bot.ctx.hold_strategies("test hold")
    assert bot.ctx.trading_held == "test hold"
    bot.ctx.hooks.on_tick(tick(1))
    bot.ctx.hooks.on_order_update(None, order(1))
    bot.ctx.hooks.on_order_update(order(1), order(1, "FILLED"))
    bot.ctx.hooks.on_tick(tick(2))
    assert strat.events == []
    with pytest.raises(TradingHeld, match="test hold"):
        await bot.ctx.orders("a").place(
            OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal(1))
        )
    release()
    release()  # idempotent
    assert bot.ctx.trading_held == ""
    assert strat.events == ["order 1 NEW", "order 1 FILLED"]
    bot.ctx.hooks.on_tick(tick(3))
    assert strat.events[-1] == "tick 3"


async def test_two_holds_release_only_when_both_are_gone(bot_factory: BotFactory) -> None:
    bot = await bot_factory(strategies({"id": "a", "use": USE}))
    first = bot.ctx.hold_strategies("one")
    second = bot.ctx.hold_strategies("two")
    first()
    bot.ctx.hooks.on_tick(tick(1))
    assert recorder(bot, "a").ticks == []
    second()
    bot.ctx.hooks.on_tick(tick(2))
    assert [t.update_id for t in recorder(bot, "a").ticks] == [2]


async def test_held_events_beyond_the_queue_size_drop_the_oldest(bot_factory: BotFactory) -> None:
    bot = await bot_factory({**strategies({"id": "a", "use": USE}), "hooks": {"queue_size": 2}})
    release = bot.ctx.hold_strategies("test")
    for n in range(1, 5):
        bot.ctx.hooks.on_order_update(None, order(n))
    release()
    assert recorder(bot, "a").events == ["order 3 NEW", "order 4 NEW"]
    assert bot.bus.stats()["held_dropped_events"] == {"strategy:a": 2}


async def test_startup_holds_strategies_until_the_bot_has_started(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(strategies({"id": "a", "use": USE}), start=False)
    assert bot.ctx.strategy_names == ("strategy:a",)
    # The runtime holds strategies from the first lifespan to the end of start().
    bot.ctx.hooks.on_tick(tick(1))  # before start: not held yet, delivered
    await bot.start()
    bot.ctx.hooks.on_tick(tick(2))
    assert [t.update_id for t in recorder(bot, "a").ticks] == [1, 2]


async def test_exception_pauses_only_that_instance(bot_factory: BotFactory) -> None:
    bot = await bot_factory(
        strategies(
            {"id": "bad", "use": USE, "params": {"fail_on_tick": True}},
            {"id": "good", "use": USE},
        )
    )
    bot.ctx.hooks.on_tick(tick(1))
    bot.ctx.hooks.on_tick(tick(2))
    assert "paused after RuntimeError in on_tick" in bot.ctx.strategy_paused("bad")
    assert bot.ctx.strategy_paused("good") == ""
    assert [t.update_id for t in recorder(bot, "good").ticks] == [1, 2]
    assert [e.plugin for e in bot.bus.errors] == ["strategy:bad"]
    with pytest.raises(StrategyPaused):
        await bot.ctx.orders("bad").place(
            OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal(1))
        )
    summary = await bot.stop()
    assert summary["strategies"]["bad"]["state"] == "paused"
    assert summary["strategies"]["good"]["state"] == "running"


async def test_unknown_instance_has_no_order_api(bot_factory: BotFactory) -> None:
    bot = await bot_factory(strategies({"id": "a", "use": USE}))
    with pytest.raises(KeyError, match="nope"):
        bot.ctx.orders("nope")


async def test_settings_risk_overrides_the_strategy_defaults(bot_factory: BotFactory) -> None:
    bot = await bot_factory(
        strategies({"id": "a", "use": USE, "risk": {"max_order_notional": "50"}})
    )
    limits = bot.ctx.orders("a").limits
    assert limits.max_order_notional == Decimal("50")
    assert limits.max_open_orders == 5  # the class default stays


# --------------------------------------------------------------- against the simulator

SIM = {
    "plugins": {
        "smart_logging": {"enabled": False},
        "reconciliation": {"enabled": False},
        "sim": {"seed": 11, "updates_per_second": 20.0, "user_event_delay": 0.0},
    },
}


@pytest.fixture
def sim_bot(bot_factory: BotFactory, tmp_path: Any) -> Any:
    async def make(**risk: str) -> Bot:
        settings = {
            **SIM,
            "runtime": {"data_dir": str(tmp_path)},
            "strategies": [{"id": "mm", "use": USE, "risk": risk}],
        }
        bot = await bot_factory(settings, entry_points=True)
        await until(lambda: "BTCUSDT" in bot.ctx.last_ticks)
        return bot

    return make


def limit_buy(bot: Bot, qty: str, below: str = "0.9") -> OrderRequest:
    bid = bot.ctx.last_ticks["BTCUSDT"].bid
    price = (bid * Decimal(below)).quantize(Decimal("0.1"))
    return OrderRequest(
        symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal(qty), price=price
    )


async def test_orders_within_limits_leave_with_the_instance_id(sim_bot: Any) -> None:
    bot = await sim_bot(max_order_notional="1000000")
    api = bot.ctx.orders("mm")
    placed = await api.place(limit_buy(bot, "0.010"))
    assert placed.client_order_id.startswith("tl-mm-")
    await until(lambda: len(api.open_orders("BTCUSDT")) == 1)
    assert bot.ctx.exchange.owner_of(placed.client_order_id) == "mm"
    canceled = await api.cancel_all()
    assert [o.status for o in canceled] == ["CANCELED"]
    await until(lambda: not api.open_orders())


async def test_while_held_only_cancels_and_reduce_only_orders_go(sim_bot: Any) -> None:
    bot = await sim_bot(max_order_notional="1000000")
    api = bot.ctx.orders("mm")
    qty = Decimal("0.010")
    await api.place(OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty))
    resting = await api.place(limit_buy(bot, "0.010"))
    await until(lambda: bot.ctx.cache.position("BTCUSDT") is not None)
    release = bot.ctx.hold_strategies("test hold")
    with pytest.raises(TradingHeld, match="only cancels and reduce-only orders"):
        await api.place(OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty))
    with pytest.raises(TradingHeld):
        await api.place(limit_buy(bot, "0.010"))
    assert (await api.cancel("BTCUSDT", resting.client_order_id)).status == "CANCELED"
    out = OrderRequest(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=qty, reduce_only=True)
    assert (await api.place(out)).reduce_only
    await until(lambda: bot.ctx.cache.position("BTCUSDT") is None)
    release()
    assert api.stats["refused_TradingHeld"] == 2


async def test_notional_limit_refuses_before_the_order_leaves(sim_bot: Any) -> None:
    bot = await sim_bot(max_order_notional="100")
    api = bot.ctx.orders("mm")
    with pytest.raises(RiskLimitExceeded, match="max_order_notional 100"):
        await api.place(
            OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("1"))
        )
    with pytest.raises(RiskLimitExceeded, match="max_order_notional"):
        await api.place(limit_buy(bot, "1"))
    assert bot.ctx.exchange.stats()["order_api"]["placed"] == 0
    assert api.stats["refused"] == 2


async def test_open_order_and_position_limits(sim_bot: Any) -> None:
    bot = await sim_bot(max_position="0.025", max_order_notional="1000000")
    api = bot.ctx.orders("mm")
    await api.place(limit_buy(bot, "0.010"))
    await api.place(limit_buy(bot, "0.010"))
    await until(lambda: len(api.open_orders()) == 2)
    # 0.020 open on the buy side; 0.010 more could make the position 0.030 > 0.025.
    with pytest.raises(RiskLimitExceeded, match="max_position"):
        await api.place(limit_buy(bot, "0.010"))
    # A sell reduces the worst case on the other side: allowed.
    ask = bot.ctx.last_ticks["BTCUSDT"].ask
    sell = OrderRequest(
        symbol="BTCUSDT",
        side="SELL",
        type="LIMIT",
        quantity=Decimal("0.010"),
        price=(ask * Decimal("1.1")).quantize(Decimal("0.1")),
    )
    await api.place(sell)
    limits = bot.ctx.orders("mm").limits
    assert limits.max_open_orders == 5


async def test_summary_counts_orders_fills_and_realized_pnl(sim_bot: Any) -> None:
    bot = await sim_bot(max_order_notional="1000000")
    api = bot.ctx.orders("mm")
    qty = Decimal("0.010")
    await api.place(OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty))
    await until(lambda: bot.ctx.cache.position("BTCUSDT") is not None)
    await api.place(
        OrderRequest(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=qty, reduce_only=True)
    )
    await until(lambda: bot.account.stats.fills >= 2 and not bot.ctx.cache.positions)
    trades = list(bot.ctx.plugin("sim").exchange.engine.trades)  # type: ignore[union-attr]
    summary = await bot.stop()
    assert summary["orders"]["placed"] == 2
    assert summary["orders"]["filled"] == 2
    assert summary["fills"] == 2
    assert len(trades) == 2
    assert Decimal(summary["realized_pnl"]["total"]) == sum(t.realized_pnl for t in trades)
    assert Decimal(summary["realized_pnl"]["fees"]["USDT"]) == sum(t.commission for t in trades)
    assert summary["cache"]["positions"] == {}
    assert set(summary["cache"]["balances"]) >= {"USDT"}
    assert summary["strategies"]["mm"]["orders"]["placed"] == 2


async def test_a_failing_task_of_a_strategy_pauses_it(bot_factory: BotFactory) -> None:
    bot = await bot_factory(strategies({"id": "a", "use": USE}))
    strat = recorder(bot, "a")

    async def boom() -> None:
        raise ValueError("order logic failed")

    task = strat.spawn(bot.ctx, boom(), "work")
    await until(task.done)
    await until(lambda: bot.ctx.strategy_paused("a") != "")
    assert "order logic failed" in bot.ctx.strategy_paused("a")


async def test_a_failing_job_pauses_its_strategy_and_paused_jobs_are_skipped(
    bot_factory: BotFactory,
) -> None:
    from framework import IntervalJob

    bot = await bot_factory(strategies({"id": "a", "use": USE}))
    runs: list[int] = []

    def job() -> None:
        runs.append(1)
        raise ValueError("job bug")

    name = bot.scheduler.add(IntervalJob(name="j", every=3600, func=job), owner="strategy:a")
    stats = bot.scheduler.stats()[name]
    assert bot.scheduler.trigger(name)
    await until(lambda: "job bug" in bot.ctx.strategy_paused("a"))
    assert bot.scheduler.trigger(name)
    await until(lambda: stats.skipped >= 1)
    assert runs == [1]  # the paused instance's job no longer runs


async def test_after_shutdown_begins_only_cancels_and_reduce_only_orders_go(
    bot_factory: BotFactory, tmp_path: Any
) -> None:
    """Once a stop is asked for, a strategy's new order is refused before it leaves (at once,
    and in its own stop); a cancel and a reduce-only close still go."""
    settings = {
        **SIM,
        "runtime": {"data_dir": str(tmp_path)},
        "strategies": [{"id": "st", "use": "tests.strategy.doubles:StopTrader"}],
    }
    bot = await bot_factory(settings, entry_points=True)
    await until(lambda: "BTCUSDT" in bot.ctx.last_ticks)
    sim_plugin = bot.ctx.plugin("sim")
    assert isinstance(sim_plugin, SimPlugin)
    assert sim_plugin.exchange is not None
    sim = sim_plugin.exchange
    strategy = bot.ctx.plugin("strategy:st")
    assert isinstance(strategy, StopTrader)
    api = bot.ctx.orders("st")
    qty = Decimal("0.010")
    await api.place(OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty))
    strategy.resting = (await api.place(limit_buy(bot, "0.010"))).client_order_id
    await until(lambda: bot.ctx.cache.position("BTCUSDT") is not None)
    strategy.new_order = limit_buy(bot, "0.020", below="0.8")
    strategy.close = OrderRequest(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity=qty, reduce_only=True
    )
    sent = len(sim.engine.orders)

    bot.ctx.request_stop("test stop")
    assert bot.ctx.shutting_down == "test stop"
    with pytest.raises(ShuttingDown, match=r"shutting down \(test stop\)"):
        await api.place(limit_buy(bot, "0.010"))
    assert len(sim.engine.orders) == sent  # refused before it left
    await bot.stop()

    assert strategy.at_stop == [
        "refused: the bot is shutting down (test stop); only cancels and reduce-only orders",
        "CANCELED",
        "FILLED",
    ]
    assert len(sim.engine.orders) == sent + 1  # the close, nothing new
    assert api.stats["refused_ShuttingDown"] == 2
    assert not any(p.amount for p in sim.engine.positions.values())
