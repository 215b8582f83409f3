"""The order API checks every request against the symbol's exchange rules before it is sent:
a request that breaks a filter is refused locally (``FilterRefused`` naming the filter and the
values, counted per filter) and never reaches the simulator; ``round_to_rules`` rounds first."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import msgspec
import pytest

from framework import ExchangeFilterRejection, FilterRefused, OrderRequest, StrategyOrders
from framework.runtime import Bot
from plugins.binance import BinancePlugin
from plugins.sim import SimExchange
from plugins.sim.testing import SimBotFactory, SimFactory, until

D = Decimal
STRATEGY = {"strategies": [{"id": "a", "use": "tests.strategy.doubles:Recorder"}]}


async def ready(sim_bot: SimBotFactory) -> tuple[Bot, StrategyOrders]:
    bot = await sim_bot(overrides=STRATEGY)
    await until(lambda: "BTCUSDT" in bot.ctx.last_ticks)
    return bot, bot.ctx.orders("a")


def limit(side: str, qty: str, price: Decimal | str) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT",
        side=side,  # type: ignore[arg-type]
        type="LIMIT",
        quantity=D(qty),
        price=D(price),
    )


def below(sim: SimExchange, ticks: int) -> Decimal:
    """A price ``ticks`` ticks under the mark, on the tick grid."""
    return (sim.engine.mark_price("BTCUSDT") - ticks * D("0.10")).quantize(D("0.1"))


async def test_a_request_breaking_filters_is_refused_naming_them_and_never_sent(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    bot, api = await ready(sim_bot)
    request = limit("BUY", "0.0015", below(sim_exchange, 100) + D("0.05"))
    assert [b.filter for b in api.check(request)] == ["LOT_SIZE", "PRICE_FILTER", "MIN_NOTIONAL"]
    assert [b.filter for b in api.check(request, round_to_rules=True)] == ["MIN_NOTIONAL"]
    with pytest.raises(FilterRefused) as refused:
        await api.place(request)
    assert refused.value.filters == ("LOT_SIZE", "PRICE_FILTER", "MIN_NOTIONAL")
    assert "quantity 0.0015 is not a step of 0.001" in str(refused.value)
    market = OrderRequest(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.001"))
    with pytest.raises(FilterRefused, match=r"MIN_NOTIONAL: notional .* < 100"):
        await api.place(market)
    unlisted = OrderRequest(symbol="XRPUSDT", side="SELL", type="MARKET", quantity=D(100))
    with pytest.raises(FilterRefused, match="SYMBOL_STATUS: no rules for XRPUSDT"):
        await api.place(unlisted)
    lower = OrderRequest(symbol="btcusdt", side="SELL", type="MARKET", quantity=D(1))
    with pytest.raises(FilterRefused, match="SYMBOL_STATUS: the exchange lists BTCUSDT, not b"):
        await api.place(lower)
    assert sim_exchange.engine.refusals.by_code == {}
    assert sim_exchange.truth().open_orders == []
    assert api.stats["refused_FilterRefused"] == 4
    assert api.stats["refused_filter_MIN_NOTIONAL"] == 2
    assert api.stats["refused_filter_LOT_SIZE"] == 1
    assert api.stats["placed"] == 0
    assert bot.ctx.strategy_stats()["a"]["orders"]["refused_filter_PRICE_FILTER"] == 1


async def test_round_to_rules_rounds_to_the_passive_side_and_the_step(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    _, api = await ready(sim_bot)
    buy = await api.place(
        limit("BUY", "0.0129", below(sim_exchange, 200) + D("0.07")), round_to_rules=True
    )
    assert (buy.price, buy.orig_qty) == (below(sim_exchange, 200), D("0.012"))
    with pytest.raises(FilterRefused, match="MIN_NOTIONAL"):  # rounding never adds quantity
        await api.place(limit("BUY", "0.0019", below(sim_exchange, 200)), round_to_rules=True)
    assert api.stats["rounded"] == 2
    assert api.stats["placed"] == 1
    assert sim_exchange.engine.refusals.by_code == {}


async def test_max_num_orders_counts_orders_still_on_their_way(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    specs = sim_exchange.engine.specs
    specs["BTCUSDT"] = dataclasses.replace(specs["BTCUSDT"], max_num_orders=3)
    bot, api = await ready(sim_bot)
    plugin = bot.ctx.plugin("binance")
    assert isinstance(plugin, BinancePlugin)
    assert plugin.connector is not None
    rules = bot.ctx.rules("BTCUSDT")
    assert rules is not None
    assert rules.max_num_orders == 3
    requests = [limit("BUY", "0.002", below(sim_exchange, 300 + i)) for i in range(5)]
    outcomes = await asyncio.gather(*(api.place(r) for r in requests), return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, FilterRefused)]
    assert len(refused) == 2
    assert all(o.filters == ("MAX_NUM_ORDERS",) for o in refused)
    assert len(sim_exchange.truth().open_orders) == 3
    assert sim_exchange.engine.refusals.by_code == {}


async def test_without_rules_nothing_is_checked_and_concurrent_orders_keep_their_books(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    bot, api = await ready(sim_bot)
    bot.ctx._rules, bot.ctx._rules_provider = {}, None  # a connector that publishes no rules
    requests = [
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.01")),
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D(0)),
    ]
    outcomes = await asyncio.gather(*(api.place(r) for r in requests), return_exceptions=True)
    assert outcomes[0].__class__.__name__ == "Order"
    assert isinstance(outcomes[1], ExchangeFilterRejection)  # the exchange's -4003
    assert api.stats["unchecked"] == 2
    assert api.stats["exchange_refused_filter_LOT_SIZE"] == 1
    assert sim_exchange.engine.refusals.by_code == {-4003: 1}


async def test_only_the_exchange_provider_publishes_rules(sim_bot: SimBotFactory) -> None:
    bot, _ = await ready(sim_bot)
    rules = bot.ctx.rules("BTCUSDT")
    assert rules is not None
    strategy = bot.ctx.plugin("strategy:a")
    with pytest.raises(RuntimeError, match="only the plugin that provides the exchange"):
        bot.ctx.publish_rules(strategy, [])
    with pytest.raises(RuntimeError, match="may not publish exchange rules"):
        bot.ctx.publish_rules(object(), [])
    assert bot.ctx.rules("BTCUSDT") == rules
    connector = bot.ctx.plugin("binance")
    bot.ctx.publish_rules(connector, [msgspec.structs.replace(rules, tick_size=D("0.5"))])
    assert bot.ctx.rules("BTCUSDT") == msgspec.structs.replace(rules, tick_size=D("0.5"))
    assert bot.ctx.rules("ETHUSDT") is None  # a publication replaces the whole book


async def static_sim_bot(
    sim_factory: SimFactory, sim_bot: SimBotFactory, **sim: object
) -> tuple[SimExchange, Bot, StrategyOrders]:
    """A simulator whose prices move only when the test moves them, and a bot on it."""
    exchange = await sim_factory(updates_per_second=0.0, symbols=["BTCUSDT"], **sim)
    risk = {"max_order_notional": "1000000"}
    strategy = {"strategies": [{**STRATEGY["strategies"][0], "risk": risk}]}
    bot = await sim_bot(sim=exchange, overrides=strategy)
    await quote(bot, exchange, "59999.9", "60000.1")
    return exchange, bot, bot.ctx.orders("a")


async def quote(bot: Bot, sim: SimExchange, bid: str, ask: str) -> None:
    """Put the top of book at ``bid``/``ask`` and wait until the bot has seen it."""
    sim.apply_quote("BTCUSDT", D(bid), D("5"), D(ask), D("5"))
    await until(
        lambda: "BTCUSDT" in bot.ctx.last_ticks and bot.ctx.last_ticks["BTCUSDT"].ask == D(ask)
    )


async def test_a_market_order_into_a_book_wider_than_the_band_is_refused_locally(
    sim_factory: SimFactory, sim_bot: SimBotFactory
) -> None:
    """-4131: a MARKET order whose counterparty best price is outside PERCENT_PRICE."""
    sim, bot, api = await static_sim_bot(sim_factory, sim_bot)
    await quote(bot, sim, "56100.0", "63900.0")  # mid 60000, each side 6.5 % away
    buy = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.01"))
    with pytest.raises(FilterRefused, match=r"PERCENT_PRICE: MARKET BUY: best ask 63900.0+ > "):
        await api.place(buy)
    sell = msgspec.structs.replace(buy, side="SELL")
    with pytest.raises(FilterRefused, match=r"PERCENT_PRICE: MARKET SELL: best bid 56100.0+ < "):
        await api.place(sell)
    assert sim.engine.refusals.by_code == {}
    # what the core would have stopped, the exchange refuses with -4131, named as a filter
    plugin = bot.ctx.plugin("binance")
    assert isinstance(plugin, BinancePlugin)
    assert plugin.connector is not None
    with pytest.raises(ExchangeFilterRejection) as refused:
        await plugin.connector.place_order(buy)
    assert refused.value.filter == "PERCENT_PRICE"
    assert sim.engine.refusals.by_code == {-4131: 1}
    await quote(bot, sim, "59999.9", "60000.1")
    assert (await api.place(buy)).status == "FILLED"


async def test_a_position_beyond_the_leverage_bracket_is_refused_locally(
    sim_factory: SimFactory, sim_bot: SimBotFactory
) -> None:
    """-2027: at 125x the brackets allow 50,000 of position notional; the position, the open
    orders of the side and fills the cache has not reported yet count, a reducing order does
    not."""
    sim, bot, api = await static_sim_bot(sim_factory, sim_bot, leverage=125)
    rules = bot.ctx.rules("BTCUSDT")
    assert rules is not None
    assert (rules.leverage, rules.max_position_notional()) == (125, D(50000))
    with pytest.raises(FilterRefused, match=r"LEVERAGE_BRACKET: position 0.900 .* > 50000, the "):
        await api.place(limit("BUY", "0.900", "59000.0"))
    await api.place(limit("BUY", "0.500", "59000.0"))  # 30,000 resting
    market = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.400"))
    with pytest.raises(FilterRefused, match="LEVERAGE_BRACKET"):
        await api.place(market)
    filled = await api.place(msgspec.structs.replace(market, quantity=D("0.300")))
    assert filled.executed_qty == D("0.300")
    # at once, before the cache may have the position: the answer's fill counts
    with pytest.raises(FilterRefused, match="LEVERAGE_BRACKET"):
        await api.place(limit("BUY", "0.050", "59000.0"))
    await api.place(OrderRequest(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.3")))
    assert sim.engine.refusals.by_code == {}
    assert api.stats["refused_filter_LEVERAGE_BRACKET"] == 3
