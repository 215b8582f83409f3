"""The connector's exchange rules against the simulator: read at start and published to the core,
reloaded on its schedule and at once after the exchange refused an order for a filter; an insane
entry is dropped at the decode boundary, counted, and the symbol keeps its last sane rules."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from framework import ExchangeFilterRejection, ManualClock, OrderRequest
from framework.runtime import Bot
from plugins.binance import BinancePlugin
from plugins.binance.connector import BinanceConnector
from plugins.sim import SimExchange
from plugins.sim.testing import SimBotFactory, until

D = Decimal


def connector(bot: Bot) -> BinanceConnector:
    plugin = bot.ctx.plugin("binance")
    assert isinstance(plugin, BinancePlugin)
    assert plugin.connector is not None
    return plugin.connector


async def test_rules_are_published_at_start_with_leverage_brackets(sim_bot: SimBotFactory) -> None:
    bot = await sim_bot()
    rules = bot.ctx.rules("btcusdt")
    assert rules is not None
    assert bot.ctx.rules_known
    assert (rules.tick_size, rules.step_size, rules.min_notional) == (D("0.10"), D("0.001"), 100)
    assert (rules.market_max_qty, rules.max_num_orders) == (D(120), 200)
    assert (rules.multiplier_up, rules.multiplier_down) == (D("1.0500"), D("0.9500"))
    assert len(rules.brackets) == 4
    assert rules.max_leverage(D(60000)) == 100
    assert rules.brackets[2].maint_margin_ratio == D("0.01")  # JSON numbers read exactly
    assert bot.ctx.rules("DOGEUSDT") is None
    stats = connector(bot).stats()["rules"]
    assert stats["loads"] == 1
    assert stats["symbols"] == 2


async def test_rules_reload_on_their_schedule(
    sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    bot = await sim_bot(binance={"rules_refresh_interval": 600})
    service = connector(bot).rules
    await manual_clock.advance(599)
    assert service.stats.loads == 1
    await manual_clock.advance(1)
    await until(lambda: service.stats.loads == 2)
    assert service.stats.scheduled == 1


async def test_a_filter_refusal_reloads_the_rules_at_once(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    bot = await sim_bot()
    conn = connector(bot)
    specs = sim_exchange.engine.specs
    specs["BTCUSDT"] = dataclasses.replace(specs["BTCUSDT"], tick_size=D("1.00"))
    price = (sim_exchange.engine.mark_price("BTCUSDT") - 100).quantize(D(1)) + D("0.5")
    request = OrderRequest(
        symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.01"), price=price
    )
    with pytest.raises(ExchangeFilterRejection) as refused:  # sent past the core on purpose
        await conn.place_order(request)
    assert refused.value.filter == "PRICE_FILTER"
    await until(lambda: conn.rules.stats.loads == 2)
    rules = bot.ctx.rules("BTCUSDT")
    assert rules is not None
    assert rules.tick_size == D("1.00")
    assert conn.rules.stats.after_refusal == 1


async def test_an_insane_entry_is_dropped_and_the_last_sane_rules_kept(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    bot = await sim_bot()
    conn = connector(bot)
    before = bot.ctx.rules("BTCUSDT")

    def tamper(method: str, path: str, result: Any) -> Any:
        if path == "/fapi/v1/exchangeInfo":
            for entry in result["symbols"]:
                if entry["symbol"] == "BTCUSDT":
                    entry["filters"][0]["tickSize"] = "NaN"
                if entry["symbol"] == "ETHUSDT":
                    entry["filters"][1]["stepSize"] = "-0.001"
        return result

    sim_exchange.tamper_rest = tamper
    await conn.rules.load()
    assert bot.ctx.rules("BTCUSDT") == before
    assert bot.ctx.rules("ETHUSDT") is not None
    assert conn.rules.stats.dropped == 2
    assert conn.counters.rejected_by["GET /fapi/v1/exchangeInfo"] == 2
    assert conn.rules.listed == {"BTCUSDT", "ETHUSDT"}


async def test_the_leverage_is_read_and_a_position_cap_refusal_reloads_it(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    """``symbolConfig`` gives the account's leverage, so the rules know the position cap;
    the leverage changed behind the bot's back: the exchange's -2027 names the filter and
    reloads it at once."""
    bot = await sim_bot()
    conn = connector(bot)
    rules = bot.ctx.rules("BTCUSDT")
    assert rules is not None
    assert (rules.leverage, rules.max_position_notional()) == (20, D(5_000_000))
    sim_exchange.set_leverage("BTCUSDT", 125)
    request = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("1"))
    with pytest.raises(ExchangeFilterRejection) as refused:  # sent past the core on purpose
        await conn.place_order(request)
    assert refused.value.filter == "LEVERAGE_BRACKET"
    await until(lambda: conn.rules.stats.loads == 2)
    rules = bot.ctx.rules("BTCUSDT")
    assert rules is not None
    assert (rules.leverage, rules.max_position_notional()) == (125, D(50_000))
