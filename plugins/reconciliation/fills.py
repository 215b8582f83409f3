"""Fills whose trade events were lost: found, read back from the exchange, and recorded.

The stream delivers an order's new state and its fill in one message, so an order whose
executed quantity exceeds the fills the cache recorded for it (``AccountCache.fill_gaps``)
lost a trade event, or was repaired from REST before its trades were read. Its trades are
listed (``FillHistory.fetch_fills``) and each one the cache lacks is judged against T, the
snapshot time, and S, the snapshot time of the bot's first reconcile:

* traded at or after T: in flight (the stream is delivering it), left alone;
* traded before S: history from before the bot watched the account, not drift; it counts
  towards the order's prior quantity so the gap closes without being asked again. Unless it
  comes after the symbol's trade cursor (``sweep.py``; at restart, the journal's last trade
  id): then it was made while the bot was down and is recorded, not as drift;
* otherwise: drift. It is recorded through ``AccountCache.apply_fill`` (which emits
  ``on_fill`` and adds to the realized PnL and fees) with the order's client order id.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import msgspec
from loguru import logger

from framework.exchange import FillHistory
from framework.types import Fill, Mismatch, Order

from .compare import Finding

TRADES_WEIGHT = 5  # GET /fapi/v1/userTrades


class FillCache(Protocol):
    """What backfilling needs of ``framework.cache.AccountCache``."""

    def has_fill(self, symbol: str, order_id: int, trade_id: int) -> bool: ...
    def filled_qty(self, symbol: str, order_id: int) -> Decimal: ...
    def set_prior_fills(self, symbol: str, order_id: int, qty: Decimal) -> None: ...
    def apply_fill(self, fill: Fill) -> bool: ...
    def trade_cursor(self, symbol: str) -> int | None: ...
    @property
    def trades_since(self) -> int | None: ...


@dataclass
class Backfill:
    """What one pass found: trades in flight, trade lists read, trades made while the bot
    was down, and the drift."""

    in_flight: int = 0
    queries: int = 0
    while_down: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def weight(self) -> int:
        """Request weight spent (one page per order)."""
        return self.queries * TRADES_WEIGHT


def note_seeded(cache: FillCache, seeds: list[Finding]) -> None:
    """Orders loaded from the startup snapshot filled their quantity before the bot watched."""
    for finding in seeds:
        order = finding.exchange
        if isinstance(order, Order) and order.executed_qty:
            cache.set_prior_fills(order.symbol, order.order_id, order.executed_qty)


async def backfill(
    cache: FillCache,
    exchange: FillHistory,
    gaps: list[tuple[Order, Decimal]],
    t: int,
    start: int,
    max_queries: int,
) -> Backfill:
    """Read the trades of up to ``max_queries`` orders with a gap and record the lost ones."""
    out = Backfill()
    asked = gaps[:max_queries]
    if not asked:
        return out
    replies = await asyncio.gather(
        *(exchange.fetch_fills(order.symbol, order.order_id) for order, _ in asked),
        return_exceptions=True,
    )
    out.queries = len(asked)
    # No await from here on: a trade the stream delivers meanwhile is already in the cache.
    for (order, missing), reply in zip(asked, replies, strict=True):
        if isinstance(reply, BaseException):
            logger.bind(plugin="reconciliation", log_key="reconcile:fills").warning(
                "reconcile: could not list the trades of order {} {}: {}",
                order.symbol,
                order.order_id,
                reply,
            )
            out.mismatches.append(_unrepaired(order, missing))
            continue
        _settle_order(cache, order, reply, t, start, out)
    return out


def _settle_order(
    cache: FillCache, order: Order, trades: list[Fill], t: int, start: int, out: Backfill
) -> None:
    prior = Decimal(0)
    in_flight = 0
    for trade in trades:
        if cache.has_fill(trade.symbol, trade.order_id, trade.trade_id):
            continue
        if trade.event_time >= t:
            in_flight += 1
        elif trade.event_time < start and not _after_cursor(cache, trade):
            prior += trade.qty
        else:
            fill = msgspec.structs.replace(trade, client_order_id=order.client_order_id)
            if trade.event_time < start:
                out.while_down += cache.apply_fill(fill)
            elif cache.apply_fill(fill):
                out.mismatches.append(fill_missing(trade))
    if prior:
        cache.set_prior_fills(order.symbol, order.order_id, prior)
    out.in_flight += in_flight
    still_missing = order.executed_qty - cache.filled_qty(order.symbol, order.order_id)
    if still_missing > 0 and not in_flight:
        # the trade list does not (yet) explain the executed quantity: asked again next run
        out.mismatches.append(_unrepaired(order, still_missing))


def fill_missing(trade: Fill) -> Mismatch:
    """The drift of a trade the cache lacked, recorded from the trade list (repaired)."""
    return Mismatch(
        kind="fill_missing",
        key=f"{trade.symbol}:{trade.order_id}:{trade.trade_id}",
        cache_value=None,
        exchange_value=f"{trade.side} {trade.qty} @ {trade.price}",
        cache_time=None,
        exchange_time=trade.event_time,
        repaired=True,
    )


def _after_cursor(cache: FillCache, trade: Fill) -> bool:
    """The trade comes after what the cache knows of its symbol's trades (made while the bot
    was down), not before the bot ever watched the account (``trades_since``)."""
    cursor = cache.trade_cursor(trade.symbol)
    if cursor is None:
        since = cache.trades_since
        return since is not None and trade.event_time >= since
    return trade.trade_id > cursor


def _unrepaired(order: Order, missing: Decimal) -> Mismatch:
    return Mismatch(
        kind="fill_missing",
        key=f"{order.symbol}:{order.order_id}",
        cache_value=f"fills short by {missing}",
        exchange_value=f"executed {order.executed_qty}",
        cache_time=order.event_time,
        exchange_time=None,
        repaired=False,
    )
