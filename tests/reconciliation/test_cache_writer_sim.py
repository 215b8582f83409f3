"""The writable cache is a capability, end to end on the simulator: the connector and
reconciliation write it; a third plugin that tries is refused by name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from framework import Balance, BotContext, CacheWriteDenied, ManualClock, OrderRequest, hookimpl
from plugins.sim.testing import SimBotFactory, SimFactory, until

from .helpers import differences, recon, reconcile


def usdt(amount: str, t: int) -> Balance:
    return Balance(
        asset="USDT",
        wallet_balance=Decimal(amount),
        cross_wallet_balance=Decimal(amount),
        event_time=t,
    )


class Intruder:
    """A third plugin that wants to write the cache from a notification."""

    def __init__(self) -> None:
        self.denied: list[CacheWriteDenied] = []

    @hookimpl
    def on_fill(self, ctx: BotContext) -> None:
        try:
            ctx.account_for(self).apply_balance(usdt("1000000", 1))
        except CacheWriteDenied as exc:
            self.denied.append(exc)


async def test_a_third_plugin_is_refused_by_name_while_connector_and_reconciliation_work(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time)
    intruder, plugin = Intruder(), recon()
    bot = await sim_bot(plugins={"reconciliation": plugin, "intruder": intruder}, sim=sim)
    await until(lambda: plugin.stats.runs >= 1)
    await bot.ctx.exchange.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010"))
    )
    await until(lambda: intruder.denied and bot.ctx.cache.position("BTCUSDT") is not None)

    assert str(intruder.denied[0]).startswith("plugin 'intruder' may not write the account cache")
    assert intruder.denied[0].plugin == "intruder"
    assert bot.ctx.cache.balances["USDT"].wallet_balance != Decimal("1000000")
    with pytest.raises(CacheWriteDenied, match="'intruder'"):
        bot.ctx.account_for(intruder)
    # the connector wrote the fill, reconciliation checked the cache against the simulator
    result = await reconcile(bot, plugin, manual_clock, sim)
    assert (result.status, result.mismatches) == ("ok", ())
    assert differences(bot.ctx.cache, sim) == []
    assert bot.ctx.cache.fill_count >= 1
    assert bot.ctx.cache_writers == ("binance", "reconciliation")
