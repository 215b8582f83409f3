"""End to end against the simulator: ticks, orders, account events, snapshot."""

from __future__ import annotations

from decimal import Decimal

from framework.types import OrderRequest, StreamState

from .helpers import Harness, until


async def test_connects_and_receives_ticks(harness: Harness) -> None:
    await until(lambda: len(harness.ticks) >= 5)
    tick = harness.ticks[-1]
    assert tick.symbol in ("BTCUSDT", "ETHUSDT")
    assert isinstance(tick.bid, Decimal)
    assert tick.bid < tick.ask
    assert harness.states("market")[0] is StreamState.CONNECTED
    assert harness.states("user_data")[0] is StreamState.CONNECTED
    assert not any(s.needs_resync for s in harness.statuses)


async def test_market_order_produces_account_events(harness: Harness) -> None:
    order = await harness.connector.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010")),
        owner="strat1",
    )
    assert harness.connector.owner_of(order.client_order_id) == "strat1"
    await until(lambda: harness.sink.fills and harness.sink.positions and harness.sink.balances)
    fill = harness.sink.fills[0]
    assert fill.client_order_id == order.client_order_id
    assert fill.qty == Decimal("0.010")
    position = harness.sink.positions[-1]
    assert position.symbol == "BTCUSDT"
    assert position.amount == Decimal("0.010")
    stats = harness.connector.stats()
    assert stats["events"]["account_updates"] >= 1
    assert stats["events"]["order_updates"] >= 1
