"""The read-only JSON views. Money stays exact: every ``Decimal`` is a JSON string."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from framework import BotContext, ReconcileResult

from .sources import connector_stats, equity, governor, reconciliation, unrealized
from .state import Observed

_KEEP = (Decimal,)
"""Left as ``Decimal`` by ``to_builtins``; the JSON encoder writes them as strings."""


def balances(ctx: BotContext) -> dict[str, Any]:
    """Wallet balances and equity per asset."""
    worth = equity(ctx)
    return {
        "balances": [
            {**msgspec.to_builtins(b, builtin_types=_KEEP), "equity": worth.get(asset)}
            for asset, b in sorted(ctx.cache.balances.items())
        ]
    }


def positions(ctx: BotContext) -> dict[str, Any]:
    """Open positions with the last mid and the unrealized PnL marked to it."""
    marks = unrealized(ctx)
    out = []
    for key, position in sorted(ctx.cache.positions.items()):
        tick = ctx.last_ticks.get(position.symbol)
        row = msgspec.to_builtins(position, builtin_types=_KEEP)
        row["mark_price"] = tick.mid if tick is not None else None
        row["unrealized_pnl_at_mark"] = marks[key]
        out.append(row)
    return {"positions": out}


def open_orders(ctx: BotContext) -> dict[str, Any]:
    """Open orders in the cache."""
    rows = sorted(ctx.cache.open_orders.values(), key=lambda o: (o.symbol, o.order_id))
    return {"orders": [msgspec.to_builtins(o, builtin_types=_KEEP) for o in rows]}


def fills(observed: Observed) -> dict[str, Any]:
    """The most recent fills, newest last."""
    return {"fills": [msgspec.to_builtins(f, builtin_types=_KEEP) for f in observed.fills]}


def reconciles(observed: Observed) -> dict[str, Any]:
    """The most recent reconcile results, newest last."""
    return {"reconciles": [_result(at, r) for at, r in observed.reconciles]}


def _result(at: float, result: ReconcileResult) -> dict[str, Any]:
    return {"at": at, **msgspec.to_builtins(result, builtin_types=_KEEP)}


def strategies(ctx: BotContext) -> dict[str, Any]:
    """Each strategy instance: running or paused (and why), and its order counters."""
    return {"strategies": ctx.strategy_stats()}


def status(
    ctx: BotContext,
    observed: Observed,
    *,
    now: float,
    started_at: float,
    health: list[str],
    ready: list[str],
) -> dict[str, Any]:
    """The bot at a glance: health, streams, REST budget, reconciliation, account totals."""
    cache = ctx.cache
    stats = connector_stats(ctx)
    gov = governor(ctx)
    recon = reconciliation(ctx)
    return {
        "at": now,
        "uptime_s": max(0.0, now - started_at),
        "exchange": str(getattr(ctx.exchange, "name", "")) if ctx.has_exchange else "",
        "healthy": not health,
        "health_reasons": health,
        "ready": not ready,
        "ready_reasons": ready,
        "trading_held": ctx.trading_held,
        "streams": {
            name: {
                "state": track.state.value,
                "up": track.up,
                "since": track.since,
                "reason": track.reason,
                **stats.get("stream", {}).get("by_stream", {}).get(name, {}),
            }
            for name, track in sorted(observed.streams.items())
        },
        "rest": None
        if gov is None
        else {"weight_used": gov[0], "weight_limit": gov[1], "governor": gov[2]},
        "reconcile": None if recon is None else recon[0],
        "open_orders": len(cache.open_orders),
        "positions": len(cache.positions),
        "fills": cache.fill_count,
        "realized_pnl": dict(cache.realized_pnl),
        "fees": dict(cache.fees),
        "disabled_plugins": ctx.stats().get("disabled_plugins", {}),
        "kill_switch": ctx.kill_switch.status(),
    }


def encode(body: Any) -> bytes:
    """JSON with ``Decimal`` as strings."""
    return msgspec.json.encode(body)
