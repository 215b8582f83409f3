"""Silent user-data streams (issue 15, part 3): connected, answering pings, delivering nothing.

Against the simulator's ``silent_user_after`` fault, on the manual clock shared with the
simulator: a quiet but healthy stream is probed and never taken for silent; a silent one is
found within twice ``silent_stream_after`` of the account moving, by a REST probe (a fill of a
resting order, an order placed outside the bot) or by the bot's own order getting no event,
then reconnected and resynced, with nothing lost.
"""

from __future__ import annotations

import json
from decimal import Decimal

from framework import BotContext, DegradedStatus, ManualClock, hookimpl
from framework.types import OrderRequest, StreamState
from plugins.sim import SimExchange
from plugins.sim.testing import SimBotFactory, SimFactory, until

from .helpers import StreamLog, differences, drive, recon

BOUND = 10.0


class DegradedLog:
    """Every ``on_degraded``."""

    def __init__(self) -> None:
        self.statuses: list[DegradedStatus] = []

    @hookimpl
    def on_degraded(self, ctx: BotContext, status: DegradedStatus) -> None:
        self.statuses.append(status)


async def _silence(sim: SimExchange, clock: ManualClock) -> None:
    """Make the open user-data connection silent (pings still flow)."""
    before = sim.fault_counts()["silent_user_after"]
    sim.set_faults(silent_user_after=0.5)
    await clock.advance(0.5)
    await until(lambda: sim.fault_counts()["silent_user_after"] > before)


async def _until_detected(plugin: object, sim: SimExchange, clock: ManualClock) -> float:
    """Move the clock a second at a time until the plugin found the silence; the seconds."""
    from plugins.reconciliation import ReconciliationPlugin

    assert isinstance(plugin, ReconciliationPlugin)
    start = clock.time()
    while plugin.silent.detected == 0:
        assert clock.time() - start <= 4 * BOUND, "silence not detected"
        await clock.advance(1.0)
        await until(lambda: not plugin.busy or plugin.phase == "confirming")
    sim.set_faults(silent_user_after=0.0)  # the new connection stays healthy
    return clock.time() - start


async def test_silent_stream_found_by_the_probe_within_twice_its_bound(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    sim = await sim_factory(clock=manual_clock.time, seed=4, updates_per_second=20)
    plugin, log = recon(silent_stream_after=BOUND, confirm_delay=1.0), StreamLog()
    bot = await sim_bot(plugins={"reconciliation": plugin, "log": log}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    # The account holds a position and a resting order: it can move without the bot.
    await sim.place_order("BTCUSDT", "BUY", "0.004")
    bid = sim.engine.quote("BTCUSDT").bid
    await sim.place_order(
        "BTCUSDT",
        "BUY",
        "0.002",
        order_type="LIMIT",
        price=(bid * Decimal("0.8")).quantize(Decimal("0.1")),
    )
    await until(lambda: bot.ctx.cache.position("BTCUSDT") is not None)
    await until(lambda: len(bot.ctx.cache.open_orders) == 1)

    # Healthy but quiet for 6 bounds: probed, never taken for silent.
    for _ in range(int(6 * BOUND)):
        await manual_clock.advance(1.0)
        await until(lambda: not plugin.busy)
    healthy_probes = plugin.silent.probes
    assert healthy_probes >= 4
    assert plugin.silent.detected == 0
    assert not plugin.degraded

    await _silence(sim, manual_clock)
    await sim.place_order("ETHUSDT", "SELL", "0.02")  # outside the bot: no event arrives
    took = await _until_detected(plugin, sim, manual_clock)
    assert took <= 2 * BOUND
    assert plugin.degraded_totals.entered == 1
    await drive(plugin, manual_clock, lambda: not plugin.degraded and not plugin.busy)
    assert bot.ctx.freshness().live
    assert differences(bot.ctx.cache, sim) == []
    resyncs = [
        s for s in log.statuses if s.stream == "user_data" and s.state is StreamState.RESYNCED
    ]
    assert len(resyncs) == 1  # after the silent connection was replaced
    # What the silence lost went unnoticed until the probe: the resync reports it as drift.
    assert plugin.last_result is not None
    assert plugin.last_result.reason.startswith("resync: user_data silent")
    assert {m.kind for m in plugin.last_result.mismatches} >= {"fill_missing"}
    assert all(m.repaired for m in plugin.last_result.mismatches)
    summary = plugin.summarize_run()
    assert summary["silent_stream"]["detected"] == 1
    assert summary["degraded"]["entered"] == 1
    print(
        "PROOF silent:",
        json.dumps(
            {
                "bound_s": BOUND,
                "detected_after_s": took,
                "healthy_probes_no_false_positive": healthy_probes,
                "silent_stream": summary["silent_stream"],
                "degraded": summary["degraded"],
            },
            sort_keys=True,
        ),
    )


async def test_silent_stream_found_by_an_order_that_brings_no_event(
    sim_factory: SimFactory, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    """An empty account is never probed (nothing can move it but the bot); the bot's own
    order whose event never comes shows the silence, without any REST probe."""
    sim = await sim_factory(clock=manual_clock.time, seed=5, updates_per_second=20)
    plugin, log = recon(silent_stream_after=BOUND, confirm_delay=1.0), DegradedLog()
    bot = await sim_bot(plugins={"reconciliation": plugin, "log": log}, sim=sim)
    await drive(plugin, manual_clock, lambda: plugin.stats.runs >= 1 and not plugin.busy)
    for _ in range(int(3 * BOUND)):
        await manual_clock.advance(1.0)
    assert plugin.silent.probes == 0  # nothing open: nothing to probe

    await _silence(sim, manual_clock)
    bid = sim.engine.quote("ETHUSDT").bid
    await bot.ctx.exchange.place_order(
        OrderRequest(
            symbol="ETHUSDT",
            side="BUY",
            type="LIMIT",
            quantity=Decimal("0.02"),
            price=(bid * Decimal("0.8")).quantize(Decimal("0.01")),
        )
    )
    took = await _until_detected(plugin, sim, manual_clock)
    assert took <= 2 * BOUND
    await drive(plugin, manual_clock, lambda: not plugin.degraded and not plugin.busy)
    assert differences(bot.ctx.cache, sim) == []
    await until(lambda: len(log.statuses) == 2)
    began, ended = log.statuses
    assert began.active
    assert "order actions" in began.reason
    assert not ended.active
    assert ended.seconds >= 0
    assert ended.reason == began.reason
