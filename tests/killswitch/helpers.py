"""Shared steps of the kill-switch tests: a still simulator, a position, a price move."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from framework.runtime import Bot
from framework.types import OrderRequest
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import until

SYMBOL = "BTCUSDT"


def mid(sim: SimExchange, symbol: str = SYMBOL) -> Decimal:
    quote = sim.engine.quote(symbol)
    return (quote.bid + quote.ask) / 2


def resting_buy(sim: SimExchange, qty: str = "0.010", symbol: str = SYMBOL) -> OrderRequest:
    """A LIMIT BUY 3 % under the bid, on the tick (stays open)."""
    quote = sim.engine.quote(symbol)
    tick = sim.engine.specs[symbol].tick_size
    price = (quote.bid * Decimal("0.97") / tick).to_integral_value() * tick
    return OrderRequest(symbol=symbol, side="BUY", type="LIMIT", quantity=Decimal(qty), price=price)


async def open_long(bot: Bot, sim: SimExchange, qty: str = "0.100") -> Decimal:
    """A tick for the bot, a resting order and a long position; the price it opened at."""
    price = mid(sim)
    await move(bot, sim, price)
    api = bot.ctx.exchange
    await api.place_order(resting_buy(sim), owner="s1")
    await api.place_order(
        OrderRequest(symbol=SYMBOL, side="BUY", type="MARKET", quantity=Decimal(qty)), owner="s1"
    )
    # A limit the position breaks trips at once and closes it: the long may be gone by the
    # time this looks, so a trip counts as having seen it.
    await until(lambda: _amount(bot) == Decimal(qty) or bot.ctx.kill_switch.trip is not None)
    # A reading now (without a limit, account events are not checked: the periodic check is).
    await until(lambda: bot.ctx.kill_switch.evaluate() is not None)
    return price


def _amount(bot: Bot) -> Decimal:
    position = bot.ctx.cache.position(SYMBOL)
    return position.amount if position is not None else Decimal(0)


async def move(bot: Bot, sim: SimExchange, price: Decimal) -> None:
    """Put the price at ``price`` and wait until the bot has seen the tick."""
    await sim.move_price(SYMBOL, price)
    now = mid(sim)
    await until(lambda: (t := bot.ctx.last_ticks.get(SYMBOL)) is not None and t.mid == now)


def limits(**kill_switch: Any) -> dict[str, Any]:
    return {"kill_switch": {key: str(value) for key, value in kill_switch.items()}}
