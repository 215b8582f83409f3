"""The per-symbol sweep of the account's trade list: every trade reaches the cache once.

Per symbol, the cache keeps a trade cursor (``AccountCache.trade_cursor``): every trade up to
that id is recorded, or is history from before the bot watched the account. A sweep lists the
trades after it (``TradeHistory.fetch_trades``: ``GET /fapi/v1/userTrades?fromId=``, weight 5
a page), records each one the cache lacks through ``AccountCache.apply_fill`` (so ``on_fill``
reaches every plugin once, and the realized PnL and fees include it) and moves the cursor on.
Each trade the cache lacks is judged against T, the snapshot time, and S, the snapshot time
of the bot's first reconcile:

* traded at or after T: in flight (the stream is delivering it); the cursor stops before it;
* traded before S: made while the bot was down (or before its first snapshot): recorded, not
  drift. Only trades after a known cursor get here: a journal's last trade id at restart;
* otherwise: ``fill_missing`` drift, recorded (repaired).

A symbol without a cursor (a fresh start without a journal) starts from its most recent
trades: those before S are history and set the cursor, the others are judged as above. When
a journal says since when it recorded the account (``AccountCache.trades_since``), history
ends there instead: its trades from then on were made while the bot watched, and are recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import msgspec
from loguru import logger

from framework.exchange import TradeHistory
from framework.types import Fill, Mismatch, Order

from .fills import fill_missing

TRADES_WEIGHT = 5  # GET /fapi/v1/userTrades


class SweepCache(Protocol):
    """What the sweep needs of ``framework.cache.AccountCache``."""

    def has_fill(self, symbol: str, order_id: int, trade_id: int) -> bool: ...
    def apply_fill(self, fill: Fill) -> bool: ...
    def order(self, symbol: str, order_id: int) -> Order | None: ...
    def prior_fills(self, symbol: str, order_id: int) -> Decimal: ...
    def set_prior_fills(self, symbol: str, order_id: int, qty: Decimal) -> None: ...
    def trade_cursor(self, symbol: str) -> int | None: ...
    def set_trade_cursor(self, symbol: str, trade_id: int) -> None: ...
    @property
    def trades_since(self) -> int | None: ...


@dataclass
class Sweep:
    """What one sweep did: pages read, trades in flight, trades recorded, and the drift."""

    queries: int = 0
    in_flight: int = 0
    while_down: int = 0
    waited: bool = False
    unfinished: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def weight(self) -> int:
        """Request weight spent."""
        return self.queries * TRADES_WEIGHT


@dataclass
class _Page:
    symbol: str
    cursor: int | None
    trades: list[Fill] | BaseException


class Sweeper:
    """Sweeps symbols' trade lists within a budget of pages per run, oldest sweep first."""

    def __init__(self) -> None:
        self._last_swept: dict[str, int] = {}  # symbol -> number of the run that swept it
        self._runs = 0

    def order_of(self, symbols: set[str]) -> list[str]:
        """The symbols, the longest unswept first (never swept: first of all)."""
        return sorted(symbols, key=lambda s: (self._last_swept.get(s, -1), s))

    async def sweep(
        self,
        cache: SweepCache,
        exchange: TradeHistory,
        symbols: Sequence[str],
        t: int,
        start: int,
        budget: int,
        *,
        wait: Callable[[], Awaitable[None]] | None,
    ) -> Sweep:
        """Sweep ``symbols`` (in this order) with at most ``budget`` pages. ``wait`` (the
        confirm delay) is awaited once before the first trade older than T that the cache
        lacks is judged, so a late stream event can still deliver it."""
        self._runs += 1
        out = Sweep()
        asked = list(symbols[:budget])
        out.unfinished = list(symbols[budget:])
        if not asked:
            return out
        cursors = {s: cache.trade_cursor(s) for s in asked}
        replies = await asyncio.gather(
            *(exchange.fetch_trades(s, _from(cursors[s])) for s in asked), return_exceptions=True
        )
        out.queries += len(asked)
        pages = [
            _Page(s, cursors[s], r if isinstance(r, BaseException) else list(r))
            for s, r in zip(asked, replies, strict=True)
        ]
        if wait is not None and any(_lacks(cache, p, t) for p in pages):
            await wait()
            out.waited = True
        full = exchange.trades_page
        for page in pages:
            symbol = page.symbol
            while True:
                if isinstance(page.trades, BaseException):
                    logger.bind(plugin="reconciliation", log_key="reconcile:sweep").warning(
                        "reconcile: could not list the trades of {}: {}", symbol, page.trades
                    )
                    out.unfinished.append(symbol)
                    break
                # No await from here to the cursor: a trade the stream delivers meanwhile is
                # already in the cache.
                more = _settle(cache, page, t, start, full, out)
                self._last_swept[symbol] = self._runs
                if not more:
                    break
                if out.queries >= budget:
                    out.unfinished.append(symbol)
                    break
                cursor = cache.trade_cursor(symbol)
                out.queries += 1
                try:
                    trades: list[Fill] | BaseException = await exchange.fetch_trades(
                        symbol, _from(cursor)
                    )
                except Exception as exc:  # noqa: BLE001 - reported, the next run asks again
                    trades = exc
                page = _Page(symbol, cursor, trades)
        return out


def _from(cursor: int | None) -> int | None:
    return None if cursor is None else cursor + 1


def _lacks(cache: SweepCache, page: _Page, t: int) -> bool:
    """The page has a trade older than T that the cache lacks (drift, unless still coming)."""
    if isinstance(page.trades, BaseException):
        return False
    return any(
        f.event_time < t and not cache.has_fill(f.symbol, f.order_id, f.trade_id)
        for f in page.trades
    )


def _settle(cache: SweepCache, page: _Page, t: int, start: int, full: int, out: Sweep) -> bool:
    """Record what the page has that the cache lacks and move the cursor; True if the page
    was full and nothing stopped the cursor (there may be more)."""
    assert not isinstance(page.trades, BaseException)
    trades = sorted(page.trades, key=lambda f: f.trade_id)
    cursor = page.cursor
    symbol = page.symbol
    if cursor is None:  # most recent trades: history before S (or since), this run's after
        if not trades:
            return False
        since = cache.trades_since
        ends = start if since is None else min(start, since)
        history = [f.trade_id for f in trades if f.event_time < ends]
        if history:
            cursor = max(history)
        else:
            cursor = trades[0].trade_id - 1
            if len(trades) >= full:
                logger.bind(plugin="reconciliation", log_key="reconcile:sweep").warning(
                    "reconcile: more than {} trades of {} since the first snapshot; older "
                    "ones are not swept (their orders' fills are still read back)",
                    full,
                    symbol,
                )
        trades = [f for f in trades if f.trade_id > cursor]
    stopped = False
    for trade in trades:
        if not cache.has_fill(trade.symbol, trade.order_id, trade.trade_id):
            if trade.event_time >= t:
                out.in_flight += 1
                stopped = True
                continue
            _record(cache, trade, start, out)
        if not stopped:
            cursor = trade.trade_id
    cache.set_trade_cursor(symbol, cursor)
    return len(page.trades) >= full and not stopped


def _record(cache: SweepCache, trade: Fill, start: int, out: Sweep) -> None:
    order = cache.order(trade.symbol, trade.order_id)
    fill = trade
    if order is not None and not trade.client_order_id:
        fill = msgspec.structs.replace(trade, client_order_id=order.client_order_id)
    if not cache.apply_fill(fill):
        return
    if trade.event_time < start:
        # made while the bot was down: part of what a seeded order filled before the bot
        # watched it (its prior quantity), now recorded
        out.while_down += 1
        prior = cache.prior_fills(trade.symbol, trade.order_id)
        if prior:
            cache.set_prior_fills(trade.symbol, trade.order_id, max(Decimal(0), prior - trade.qty))
        return
    out.mismatches.append(fill_missing(trade))
