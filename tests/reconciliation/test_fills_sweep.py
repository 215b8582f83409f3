"""Every trade of the account reaches the cache exactly once (issue 13 item 6): the REST
acknowledgement of the bot's own orders is applied, reconciliation sweeps the trade list per
symbol from the last known trade id, and trades made while the bot was down are recorded at
restart. Against the simulator over loopback, with the real connector and cache."""

from __future__ import annotations

from decimal import Decimal

from framework import ManualClock
from framework.types import OrderRequest
from plugins.sim.testing import SimBotFactory, SimFactory

from .helpers import drive, recon


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
    held = bot.ctx.account.order("BTCUSDT", placed.order_id)
    assert held is not None
    assert held.status == "NEW"
    assert held.event_time == placed.event_time  # the exchange's updateTime
    assert ("BTCUSDT", placed.order_id) in bot.ctx.cache.open_orders

    market = await bot.ctx.exchange.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.002"))
    )
    filled = bot.ctx.account.order("BTCUSDT", market.order_id)
    assert filled is not None
    assert filled.status == "FILLED"

    canceled = await bot.ctx.exchange.cancel_order("BTCUSDT", placed.client_order_id)
    assert canceled.status == "CANCELED"
    assert ("BTCUSDT", placed.order_id) not in bot.ctx.cache.open_orders
    gone = bot.ctx.account.order("BTCUSDT", placed.order_id)
    assert gone is not None
    assert gone.status == "CANCELED"
