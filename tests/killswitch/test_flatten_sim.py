"""``flatten_account`` against the simulator over real sockets."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from framework.clock import SystemClock
from framework.flatten import FLATTEN_OWNER, flatten_account
from framework.runtime import Bot
from framework.types import OrderRequest
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import SimBotFactory, SimFactory, until


def resting_buy(sim: SimExchange, symbol: str, qty: str) -> OrderRequest:
    """A LIMIT BUY 3 % under the bid, on the tick (stays open)."""
    quote = sim.engine.quote(symbol)
    tick = sim.engine.specs[symbol].tick_size
    price = (quote.bid * Decimal("0.97") / tick).to_integral_value() * tick
    return OrderRequest(symbol=symbol, side="BUY", type="LIMIT", quantity=Decimal(qty), price=price)


def market(symbol: str, side: str, qty: str) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=side, type="MARKET", quantity=Decimal(qty))  # type: ignore[arg-type]


async def open_book(bot: Bot, sim: SimExchange) -> None:
    """Two resting orders and two positions (one long, one short)."""
    api = bot.ctx.exchange
    await api.place_order(resting_buy(sim, "BTCUSDT", "0.010"), owner="s1")
    await api.place_order(resting_buy(sim, "ETHUSDT", "0.100"), owner="s2")
    await api.place_order(market("BTCUSDT", "BUY", "0.020"), owner="s1")
    await api.place_order(market("ETHUSDT", "SELL", "0.300"), owner="s2")


async def test_flatten_cancels_every_order_and_closes_every_position(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    bot = await sim_bot()
    await open_book(bot, sim_exchange)
    before = sim_exchange.truth()
    assert len(before.open_orders) == 2

    result = await flatten_account(bot.ctx, reason="test")

    after = sim_exchange.truth()
    assert after.open_orders == []
    assert all(not p.amount for p in after.positions.values())
    assert result.ok
    assert sorted(o.client_order_id for o in result.cancelled) == sorted(
        o.client_order_id for o in before.open_orders
    )
    assert all(o.status == "CANCELED" for o in result.cancelled)
    closed = {c.position.symbol: c for c in result.closed}
    assert set(closed) == {"BTCUSDT", "ETHUSDT"}
    assert closed["BTCUSDT"].order.side == "SELL"
    assert closed["BTCUSDT"].order.orig_qty == Decimal("0.020")
    assert closed["ETHUSDT"].order.side == "BUY"
    assert closed["ETHUSDT"].order.orig_qty == Decimal("0.300")
    for c in result.closed:
        assert c.order.reduce_only
        assert c.order.type == "MARKET"
        assert bot.ctx.exchange.owner_of(c.order.client_order_id) == FLATTEN_OWNER
    assert result.lines()[0].startswith("cancelled ")
    assert "2 orders cancelled, 2 positions closed, 0 failed" == result.summary()


async def test_flatten_of_a_flat_account_does_nothing(sim_bot: SimBotFactory) -> None:
    bot = await sim_bot()
    result = await flatten_account(bot.ctx, reason="test")
    assert result.nothing_to_do
    assert result.ok
    assert result.lines() == ["nothing to do: no open order, no position"]


async def test_failures_are_listed_with_the_error_and_no_secret(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    # The system clock: the connector resolves each order's unknown outcome (HTTP 5xx) by
    # waiting on the bot's clock, which a manual clock would never move.
    bot = await sim_bot(clock=SystemClock())
    await open_book(bot, sim_exchange)
    sim_exchange.set_faults(rest_error_rate=1.0)  # every REST call fails: nothing can be done

    result = await flatten_account(bot.ctx, reason="test")

    assert not result.ok
    assert result.cancelled == ()
    assert result.closed == ()
    steps = [f.step for f in result.failed]
    assert steps[0] == "snapshot"  # the cache's view stood in
    assert steps.count("cancel") == 2
    assert steps.count("close") == 2
    secrets = (sim_exchange.settings.api_key, sim_exchange.settings.api_secret)
    for failure in result.failed:
        assert failure.error
        assert not any(s in failure.error for s in secrets)
    sim_exchange.set_faults(rest_error_rate=0.0)
    again = await flatten_account(bot.ctx, reason="retry")
    assert again.ok
    assert len(again.cancelled) == 2
    assert len(again.closed) == 2
    assert sim_exchange.truth().open_orders == []


async def test_flatten_closes_hedge_mode_positions_by_their_side(
    sim_factory: SimFactory, sim_bot: SimBotFactory
) -> None:
    """Hedge mode (dual side): a LONG and a SHORT on one symbol and a SHORT on another are
    closed with their side's closing order (positionSide, never reduceOnly, which the
    exchange refuses there), and the cache follows."""
    sim = await sim_factory(dual_side_position=True)
    bot = await sim_bot(sim=sim)
    api = bot.ctx.exchange
    hedge = msgspec.structs.replace
    await api.place_order(
        hedge(resting_buy(sim, "BTCUSDT", "0.010"), position_side="LONG"), owner="s1"
    )
    await api.place_order(
        hedge(market("BTCUSDT", "BUY", "0.020"), position_side="LONG"), owner="s1"
    )
    await api.place_order(
        hedge(market("BTCUSDT", "SELL", "0.010"), position_side="SHORT"), owner="s1"
    )
    await api.place_order(
        hedge(market("ETHUSDT", "SELL", "0.300"), position_side="SHORT"), owner="s2"
    )
    before = sim.truth().positions
    assert (before["BTCUSDT:LONG"].amount, before["BTCUSDT:SHORT"].amount) == (
        Decimal("0.020"),
        Decimal("-0.010"),
    )
    await until(lambda: len(bot.ctx.cache.positions) == 3)

    result = await flatten_account(bot.ctx, reason="test")

    assert result.ok, result.lines()
    after = sim.truth()
    assert after.open_orders == []
    assert {k: p.amount for k, p in after.positions.items() if p.amount} == {}
    closed = {(c.position.symbol, c.position.side): c.order for c in result.closed}
    assert set(closed) == {("BTCUSDT", "LONG"), ("BTCUSDT", "SHORT"), ("ETHUSDT", "SHORT")}
    assert (closed["BTCUSDT", "LONG"].side, closed["BTCUSDT", "LONG"].orig_qty) == (
        "SELL",
        Decimal("0.020"),
    )
    assert closed["BTCUSDT", "SHORT"].side == "BUY"
    assert closed["ETHUSDT", "SHORT"].orig_qty == Decimal("0.300")
    for (_, side), order in closed.items():
        assert order.position_side == side
        assert not order.reduce_only
        assert order.status == "FILLED"
    assert "MARKET closing LONG FILLED" in "\n".join(result.lines())
    await until(lambda: not bot.ctx.cache.positions)
    assert sim.engine.refusals.by_code == {}


async def test_a_hedge_mode_order_cannot_be_reduce_only(
    sim_factory: SimFactory, sim_bot: SimBotFactory
) -> None:
    sim = await sim_factory(dual_side_position=True)
    bot = await sim_bot(sim=sim)
    request = msgspec.structs.replace(
        market("BTCUSDT", "SELL", "0.010"), position_side="LONG", reduce_only=True
    )
    with pytest.raises(ValueError, match="cannot be reduce-only: close with the side opposite"):
        await bot.ctx.exchange.place_order(request, owner="s1")
    assert sim.engine.refusals.by_code == {}
