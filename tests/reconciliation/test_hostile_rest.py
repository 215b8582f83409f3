"""A REST entry holding an insane value (issue 13 item 3), over real sockets.

The simulator's ``tamper_rest`` hook rewrites one entry of a REST answer. Reconciliation must
drop that entry (counted, logged), leave the cache entry it may stand for alone, still compare
and repair every other entry, and repair that one too on the next good reconcile.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from framework import ManualClock
from framework.runtime import Bot
from plugins.binance import BinancePlugin
from plugins.sim import SimExchange
from plugins.sim.testing import SimBotFactory, SimFactory
from tests.hostile import FAR_FUTURE_MS

from .helpers import differences, drive, recon, reconcile

# (endpoint, field, value)
CASES: list[tuple[str, str, Any]] = [
    ("/fapi/v3/positionRisk", "positionAmt", "NaN"),
    ("/fapi/v3/positionRisk", "entryPrice", "-1"),
    ("/fapi/v3/positionRisk", "updateTime", FAR_FUTURE_MS),
    ("/fapi/v3/positionRisk", "symbol", "BTC\u202eUSDT\x00"),
    ("/fapi/v3/balance", "balance", "-Infinity"),
    ("/fapi/v3/balance", "crossWalletBalance", "9" * 5000),
    ("/fapi/v3/balance", "updateTime", FAR_FUTURE_MS),
    ("/fapi/v1/openOrders", "executedQty", "NaN"),
    ("/fapi/v1/openOrders", "origQty", "1E+999999"),
    ("/fapi/v1/openOrders", "clientOrderId", "x" * 100_000),
]


class RowTamper:
    """Rewrites ``field`` of the BTCUSDT (or USDT) entry of every answer of ``path``, while
    ``on``."""

    def __init__(self, path: str, field: str, value: Any) -> None:
        self.path, self.field, self.value = path, field, value
        self.on = True
        self.hits = 0

    def __call__(self, method: str, path: str, result: Any) -> Any:
        if not self.on or path != self.path or not isinstance(result, list) or not result:
            return result
        rows = [dict(r) for r in result]
        target = next(
            (r for r in rows if r.get("symbol") == "BTCUSDT" or r.get("asset") == "USDT"), None
        )
        if target is None:
            return result
        target[self.field] = self.value
        self.hits += 1
        return rows


def events(bot: Bot) -> dict[str, Any]:
    plugin = bot.ctx.plugin("binance")
    assert isinstance(plugin, BinancePlugin)
    assert plugin.connector is not None
    return dict(plugin.connector.stats()["events"])


async def open_everything(sim: SimExchange) -> None:
    """A position, a USDT balance change and a resting order on BTCUSDT."""
    await sim.place_order("BTCUSDT", "BUY", "0.004")
    quote = sim.engine.quote("BTCUSDT")
    await sim.place_order("BTCUSDT", "BUY", "0.002", order_type="LIMIT", price=quote.bid - 50)


@pytest.mark.parametrize(("path", "field", "value"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
async def test_a_bad_rest_entry_is_dropped_and_the_rest_is_still_compared_and_repaired(
    sim_factory: SimFactory,
    sim_bot: SimBotFactory,
    manual_clock: ManualClock,
    path: str,
    field: str,
    value: Any,
) -> None:
    sim = await sim_factory(clock=manual_clock.time, updates_per_second=0)
    plugin = recon()
    bot = await sim_bot(plugins={"reconciliation": plugin}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    await open_everything(sim)  # seen on the stream: the cache holds all three
    result = await reconcile(bot, plugin, manual_clock, sim)
    assert differences(bot.ctx.cache, sim) == [], result

    # Everything changes while the stream loses every event: drift in every family.
    sim.set_faults(drop_user_events=1.0)
    await sim.place_order("BTCUSDT", "BUY", "0.002")
    await sim.place_order("ETHUSDT", "BUY", "0.03")
    quote = sim.engine.quote("ETHUSDT")
    await sim.place_order("ETHUSDT", "SELL", "0.01", order_type="LIMIT", price=quote.ask + 5)
    tamper = RowTamper(path, field, value)
    sim.tamper_rest = tamper
    before = {k: v for k, v in bot.ctx.cache.balances.items()}

    result = await reconcile(bot, plugin, manual_clock, sim)

    assert tamper.hits >= 1
    assert result.status == "warning", result  # not "error": the run went through
    assert result.unreadable == 1
    assert events(bot)["rejected_by"] == {f"GET {path}": tamper.hits}
    cache = bot.ctx.cache
    left = differences(cache, sim)
    # every other entry was compared and repaired: only what the bad entry stands for differs
    if path == "/fapi/v3/balance":
        assert cache.balances["USDT"] == before["USDT"]  # left alone, not "extra"
        assert left, left
        assert all(d.startswith("balance USDT") for d in left), left
    elif path == "/fapi/v3/positionRisk":
        assert left, left
        assert all(d.startswith("position BTCUSDT") for d in left), left
        assert cache.position("ETHUSDT") is not None  # the other position was repaired
    else:
        assert all("order" in d and "BTCUSDT" in d for d in left), left
        assert any(o.symbol == "ETHUSDT" for o in cache.open_orders.values())
    assert {m.key for m in result.mismatches} >= {"USDT"} or path == "/fapi/v3/balance"

    # The exchange answers sanely again: the next reconcile repairs the rest.
    tamper.on = False
    sim.set_faults(drop_user_events=0.0)
    result = await reconcile(bot, plugin, manual_clock, sim)
    assert result.unreadable == 0
    assert differences(bot.ctx.cache, sim) == [], result
    assert plugin.metrics()["unreadable"] == 1
    summary = await bot.stop()
    assert summary["reconcile"]["unreadable"] == 1
    assert summary["events"]["rejected"] == tamper.hits
    for asset, b in bot.ctx.cache.balances.items():
        assert b.wallet_balance.is_finite(), asset
    assert all(abs(p.amount) < Decimal(10) for p in bot.ctx.cache.positions.values())
