"""Read-only access to the other parts' figures: connector, governor, reconciliation.

Everything is looked up when asked (at scrape or request time) through public attributes and
summaries, so nothing is added to the tick or account-event path. A connector other than
``binance`` simply has no connector or governor figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from framework import BotContext

RECONCILIATION = "reconciliation"
ZERO = Decimal(0)


def connector_stats(ctx: BotContext) -> Mapping[str, Any]:
    """The connector's ``stats()`` (stream, events, rest, order_api sections), or ``{}``."""
    if not ctx.has_exchange:
        return {}
    stats = getattr(ctx.exchange, "stats", None)
    if not callable(stats):
        return {}
    out = stats()
    return out if isinstance(out, Mapping) else {}


def governor(ctx: BotContext) -> tuple[int, int, str] | None:
    """(weight used this minute, weight limit, ``ok``/``slowed``/``banned``), or ``None``."""
    if not ctx.has_exchange:
        return None
    rest = getattr(ctx.exchange, "rest", None)
    gov = getattr(rest, "governor", None)
    config = getattr(gov, "config", None)
    if gov is None or config is None:
        return None
    used = int(gov.used_weight)
    limit = int(config.weight_limit_1m)
    if gov.blocked_for > 0:
        state = "banned"
    elif used >= config.slow_down_at * limit:
        state = "slowed"
    else:
        state = "ok"
    return used, limit, state


def reconciliation(ctx: BotContext) -> tuple[Mapping[str, Any], float] | None:
    """The reconciliation plugin's ``metrics()`` and its interval (seconds), or ``None``."""
    plugin = ctx.plugin(RECONCILIATION)
    metrics = getattr(plugin, "metrics", None)
    if not callable(metrics):
        return None
    interval = float(getattr(getattr(plugin, "config", None), "interval", 0.0) or 0.0)
    return metrics(), interval


def marks(ctx: BotContext) -> dict[str, Decimal]:
    """Mid price of the last tick per symbol."""
    return {symbol: tick.mid for symbol, tick in ctx.last_ticks.items()}


def unrealized(ctx: BotContext) -> dict[tuple[str, str], Decimal]:
    """Unrealized PnL per position, marked to the last tick's mid (the exchange's figure
    before the first tick)."""
    prices = marks(ctx)
    out: dict[tuple[str, str], Decimal] = {}
    for key, position in ctx.cache.positions.items():
        mark = prices.get(position.symbol)
        out[key] = (
            (mark - position.entry_price) * position.amount
            if mark is not None
            else position.unrealized_pnl
        )
    return out


def equity(ctx: BotContext) -> dict[str, Decimal]:
    """Per wallet asset: wallet balance plus the unrealized PnL of the positions quoted in it."""
    upnl = unrealized(ctx)
    out: dict[str, Decimal] = {}
    for asset, balance in ctx.cache.balances.items():
        open_pnl = sum((pnl for (symbol, _), pnl in upnl.items() if symbol.endswith(asset)), ZERO)
        out[asset] = balance.wallet_balance + open_pnl
    return out
