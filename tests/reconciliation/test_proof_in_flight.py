"""Proof 2 (issue 5): under continuous trading, nothing in flight is ever reported as drift.

A test plugin trades all the time through ``ctx.exchange`` (market orders, limit orders that
the moving price fills, cancels), so fills, balance and position changes race every
reconcile's REST reads. Any mismatch reported here would be a false positive.

* On the real clock, no faults: periodic reconciles every 20 ms, at least 60 of them.
* On the manual clock with the stream slowed down (every user event 50 ms late, in order,
  none lost): 50 reconciles, most of which see REST ahead of the stream. The
  test stands in for ``confirm_delay`` by waiting until the stream has delivered everything
  sent before the confirm (a marker order), so the outcome does not depend on timing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal

from framework import ManualClock, SystemClock
from plugins.sim.testing import SimBotFactory, SimFactory, until

from .helpers import Probe, Trader, differences, drive, recon, reconcile

RUNS = 60
MANUAL_RUNS = 50
# Every user event 50 ms late, so REST is always ahead of the stream. In order and none lost:
# reordering is a fault of its own (two updates of one entry in the same millisecond are
# indistinguishable, so the cache keeps whichever came last; that is drift, see the faults).
LAG = {"delay_user_events": 1.0}


async def test_no_drift_is_reported_while_trading_continuously(
    sim_factory: SimFactory, sim_bot: SimBotFactory
) -> None:
    sim = await sim_factory(seed=3, updates_per_second=50)
    plugin = recon(interval=0.02, confirm_delay=1.0)
    trader, seen = Trader(sim, 3, symbols=("BTCUSDT", "ETHUSDT")), Probe()
    bot = await sim_bot(
        plugins={"trader": trader, "reconciliation": plugin, "seen": seen},
        sim=sim,
        clock=SystemClock(),
    )
    await until(lambda: plugin.stats.runs >= 1)
    stop = asyncio.Event()
    trading = asyncio.ensure_future(trader.run(stop, pause=0.02))
    first = plugin.stats.runs
    try:
        await until(lambda: plugin.stats.runs >= first + RUNS, within=90)
    finally:
        stop.set()
        await trading
    during = seen.results[first : first + RUNS]
    fills = bot.account.stats.fills

    false_positives = [r for r in seen.results if r.mismatches]
    assert false_positives == []
    assert all(r.status == "ok" for r in seen.results)
    assert len(during) == RUNS
    assert trader.counts["market"] + trader.counts["limit"] >= 20
    assert fills >= 20
    for symbol in trader.symbols:  # nothing rests, so the moving price fills nothing more
        sim.cancel_all(symbol)
    await until(lambda: differences(bot.ctx.cache, sim) == [])
    print(
        "PROOF2-real",
        json.dumps(
            {
                "reconciles": len(seen.results),
                "in_flight": sum(r.in_flight_skipped for r in seen.results),
                "fills": fills,
                "trades": dict(trader.counts),
            },
            sort_keys=True,
        ),
    )


async def test_no_drift_is_reported_when_the_stream_lags_behind_rest(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(
        clock=manual_clock.time, seed=5, updates_per_second=50, user_event_delay=0.05
    )
    plugin = recon(confirm_delay=3.0)
    trader, seen = Trader(sim, 5, symbols=("BTCUSDT", "ETHUSDT")), Probe()
    bot = await sim_bot(plugins={"trader": trader, "reconciliation": plugin, "seen": seen}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    sim.set_faults(**LAG)
    markers = itertools.count()

    async def stream_catches_up() -> None:
        """What confirm_delay stands for: everything sent before it has arrived.

        Every event is delayed alike, so they stay in order: a marker order sent now arrives
        after all of them; once it is in the cache, so is everything older.
        """
        bid = sim.engine.quote("ETHUSDT").bid
        placed = await sim.place_order(
            "ETHUSDT",
            "BUY",
            "0.01",
            order_type="LIMIT",
            price=(bid * Decimal("0.9")).quantize(Decimal("0.01")),
            client_order_id=f"marker{next(markers)}",
        )
        oid = int(placed["orderId"])
        await until(lambda: bot.account.order("ETHUSDT", oid) is not None)
        order = sim.engine.open_orders["ETHUSDT"].get(oid)
        if order is not None:  # (the trader may have canceled it already)
            sim.cancel(order)
        await until(lambda: ("ETHUSDT", oid) not in bot.ctx.cache.open_orders)

    stop = asyncio.Event()
    trading = asyncio.ensure_future(trader.run(stop, pause=0.01))
    results = []
    try:
        for _ in range(MANUAL_RUNS):
            results.append(
                await reconcile(bot, plugin, manual_clock, sim, before_confirm=stream_catches_up)
            )
    finally:
        stop.set()
        await trading

    assert [r.mismatches for r in results if r.mismatches] == []
    assert all(r.status == "ok" for r in results)
    assert sum(1 for r in results if r.in_flight_skipped) >= 10  # the rule was exercised
    assert bot.account.stats.fills >= 20
    for symbol in trader.symbols:  # nothing rests, so the moving price fills nothing more
        sim.cancel_all(symbol)
    final = await reconcile(bot, plugin, manual_clock, sim, before_confirm=stream_catches_up)
    assert final.mismatches == ()
    sim.set_faults(delay_user_events=0.0)
    assert differences(bot.ctx.cache, sim) == []
    print(
        "PROOF2-lag",
        json.dumps(
            {
                "reconciles": len(results),
                "with_in_flight": sum(1 for r in results if r.in_flight_skipped),
                "in_flight": sum(r.in_flight_skipped for r in results),
                "fills": bot.account.stats.fills,
                "trades": dict(trader.counts),
                "faults": {k: v for k, v in sim.fault_counts().items() if v},
            },
            sort_keys=True,
        ),
    )
