"""Risk checks count the orders the exchange acknowledged before the cache has heard of them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from framework import OrderRequest
from framework.errors import RiskLimitExceeded
from framework.testing import BotFactory
from tests.strategies.helpers import SYMBOL, move, ready, sim_settings

# Every user-data event is delivered 60 s late.
LATE_EVENTS = {"user_event_delay": 60.0, "faults": {"delay_user_events": 1.0}}
# A bare strategy instance (the base class has no hooks): the test places its orders itself.
BARE = {"id": "raw", "use": "framework.strategy:Strategy"}


def buy(qty: str, price: str) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL, side="BUY", type="LIMIT", quantity=Decimal(qty), price=Decimal(price)
    )


async def test_limits_see_acknowledged_orders_the_stream_has_not_reported(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    # User-data events arrive 60 s late: during the test the stream reports no order (the cache
    # knows them from the exchange's answers, which the connector applies).
    strategy = {**BARE, "risk": {"max_position": "0.015", "max_open_orders": 2}}
    settings = sim_settings(tmp_path, strategy, **LATE_EVENTS)
    bot = await bot_factory(settings, entry_points=True)
    await ready(bot)
    await move(bot, "65000")
    api = bot.ctx.orders("raw")

    first = await api.place(buy("0.010", "64000"))
    assert [o.client_order_id for o in bot.ctx.cache.open_orders.values()] == [
        first.client_order_id
    ]
    assert [o.client_order_id for o in api.open_orders(SYMBOL)] == [first.client_order_id]
    with pytest.raises(RiskLimitExceeded, match="max_position"):
        await api.place(buy("0.010", "63900"))  # 0.020 if both filled
    await api.place(buy("0.003", "63900"))
    with pytest.raises(RiskLimitExceeded, match="2 open orders"):
        await api.place(buy("0.002", "63800"))  # (0.001 would break MIN_NOTIONAL first)

    canceled = await api.cancel_all(SYMBOL)
    assert [o.status for o in canceled] == ["CANCELED", "CANCELED"]
    assert api.open_orders() == []
    await api.place(buy("0.010", "63800"))  # nothing open any more: allowed again
