"""The rules of ``/health`` and ``/ready``: each answers with the reasons it is not."""

from __future__ import annotations

from framework import BotContext

from .settings import HttpSettings
from .sources import reconciliation
from .state import Observed


def health_reasons(
    ctx: BotContext, observed: Observed, config: HttpSettings, now: float, started_at: float
) -> list[str]:
    """Why the bot is unhealthy (empty: healthy).

    Trading halted by the kill switch (until ``tradeloop resume``); a stream disconnected or
    stale for ``stream_down_after`` seconds or more; the last good reconcile older than the
    overdue bound (or none since start for that long); a plugin disabled by the circuit
    breaker (a strategy paused after an error included).
    """
    reasons: list[str] = []
    trip = ctx.kill_switch.trip
    if trip is not None:
        reasons.append(f"trading halted: kill switch tripped: {trip.describe()}")
    bound = config.stream_down_after
    for name, track in sorted(observed.streams.items()):
        down_for = now - track.since
        if not track.up and down_for >= bound:
            reasons.append(
                f"stream {name} {track.state.value} for {down_for:.1f} s "
                f"(bound {bound:g} s): {track.reason}"
            )
    recon = reconciliation(ctx)
    if recon is not None:
        metrics, interval = recon
        overdue = config.reconcile_overdue_after or 2 * interval
        last_good = metrics.get("last_good_at")
        age = now - (started_at if last_good is None else float(last_good))
        if overdue > 0 and age >= overdue:
            what = "no good reconcile since start" if last_good is None else "last good reconcile"
            reasons.append(f"reconcile overdue: {what} {age:.1f} s ago (bound {overdue:g} s)")
    for plugin, why in sorted(ctx.stats().get("disabled_plugins", {}).items()):
        reasons.append(f"plugin {plugin} disabled: {why}")
    return reasons


def ready_reasons(ctx: BotContext) -> list[str]:
    """Why the bot is not ready (empty: ready): startup reconcile not done, strategies held."""
    reasons: list[str] = []
    recon = reconciliation(ctx)
    if recon is not None and recon[0].get("last_good_at") is None:
        reasons.append("startup reconcile not done")
    held = ctx.trading_held
    if held:
        reasons.append(f"strategies held: {held}")
    return reasons
