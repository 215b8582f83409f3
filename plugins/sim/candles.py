"""Candles the simulator keeps from the trades it streams, for every Binance kline interval.

Each aggregated trade the price loop publishes (``@aggTrade``) is added to the open candle of
every interval, so ``GET /fapi/v1/klines`` and ``@kline_<interval>`` agree with the ticks: the
open is the interval's first trade price, the close its last, the volume the sum of the trade
quantities. Prices and volumes stay integers in units of ``10**-precision`` (quote volume in
``10**-(price precision + quantity precision)``) so a trade costs a few integer operations per
interval.

Memory is bounded: each interval keeps at most ``MAX_CANDLES`` closed candles (the largest
``klines`` page). Before the exchange starts, ``seed_history`` fills ``HISTORY_MINUTES`` of
1-minute candles from a seeded random walk that ends at the start price (the other intervals
are aggregated from them), so klines have a past that joins the live prices.
"""

from __future__ import annotations

import calendar
import math
import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS
MONTH: Final = 0
"""``ms`` of ``1M``: calendar months, not a fixed length."""
INTERVALS: Final[dict[str, int]] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
    "1M": MONTH,
}
"""Every USD-M kline interval (FACTS.md §1.7: 1m to 1M, no 1s), with its length in ms."""
MAX_CANDLES: Final = 1500
"""Closed candles kept per interval and symbol: the largest ``klines`` page."""
HISTORY_MINUTES: Final = 1500
"""Minutes of seeded 1-minute history before the start (25 h: enough for ``ticker/24hr``)."""
_WEEK_OFFSET: Final = 4 * DAY_MS  # 1970-01-01 was a Thursday; weeks open on Monday 00:00 UTC
_UPDATES_PER_MINUTE: Final = 300  # price updates a seeded minute stands for (5 a second)


def open_time_of(interval: str, ms: int) -> int:
    """The open time (ms) of the ``interval`` candle holding the instant ``ms``."""
    length = INTERVALS[interval]
    if length == MONTH:
        day = datetime.fromtimestamp(ms / 1000, UTC)
        return calendar.timegm((day.year, day.month, 1, 0, 0, 0)) * 1000
    if interval == "1w":
        return ms - (ms - _WEEK_OFFSET) % length
    return ms - ms % length


def close_time_of(interval: str, open_ms: int) -> int:
    """The close time (ms, inclusive) of the ``interval`` candle opening at ``open_ms``."""
    length = INTERVALS[interval]
    if length == MONTH:
        day = datetime.fromtimestamp(open_ms / 1000, UTC)
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000 - 1
    return open_ms + length - 1


@dataclass(slots=True)
class Candle:
    """One candle in integer units; ``first_trade``/``last_trade`` are -1 while it has none."""

    open_time: int
    close_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    quote_volume: int = 0
    trades: int = 0
    taker_buy_volume: int = 0
    taker_buy_quote: int = 0
    first_trade: int = -1
    last_trade: int = -1


class CandleSeries:
    """The candles of one interval of one symbol: the closed ones (bounded) and the open one."""

    __slots__ = ("closed", "current", "interval")

    def __init__(self, interval: str) -> None:
        self.interval = interval
        self.closed: deque[Candle] = deque(maxlen=MAX_CANDLES)
        self.current: Candle | None = None

    def roll_to(self, ms: int) -> list[Candle]:
        """Close the open candle if ``ms`` is past it, with flat empty candles for the intervals
        that had no trade (as Binance lists them); return the candles closed now."""
        current = self.current
        if current is None or ms <= current.close_time:
            return []
        closed = [current]
        last = current.close
        start = open_time_of(self.interval, ms)
        open_ms = current.close_time + 1
        # a long silence adds at most MAX_CANDLES flat candles (the older ones would be dropped)
        skip = 0
        if INTERVALS[self.interval] != MONTH:
            gap = (start - open_ms) // INTERVALS[self.interval]
            skip = max(0, gap - MAX_CANDLES)
            open_ms += skip * INTERVALS[self.interval]
        while open_ms < start:
            close_ms = close_time_of(self.interval, open_ms)
            closed.append(Candle(open_ms, close_ms, last, last, last, last))
            open_ms = close_ms + 1
        self.closed.extend(closed)
        self.current = Candle(start, close_time_of(self.interval, start), last, last, last, last)
        return closed

    def add_trade(
        self,
        ms: int,
        price: int,
        qty: int,
        quote: int,
        taker_buy: bool,
        first_id: int,
        last_id: int,
    ) -> list[Candle]:
        """Add one aggregated trade at ``ms``; return the candles it closed (usually none)."""
        closed = self.roll_to(ms)
        c = self.current
        if c is None:
            start = open_time_of(self.interval, ms)
            c = self.current = Candle(
                start, close_time_of(self.interval, start), price, price, price, price
            )
        if c.trades == 0:
            c.open = c.high = c.low = price
            c.first_trade = first_id
        elif price > c.high:
            c.high = price
        elif price < c.low:
            c.low = price
        c.close = price
        c.last_trade = last_id
        c.trades += last_id - first_id + 1
        c.volume += qty
        c.quote_volume += quote
        if taker_buy:
            c.taker_buy_volume += qty
            c.taker_buy_quote += quote
        return closed

    def window(self, start: int | None, end: int | None, limit: int) -> list[Candle]:
        """Candles (oldest first, the open one last) opening within ``[start, end]``: the first
        ``limit`` from ``start`` when it is given, else the last ``limit`` up to ``end``."""
        every = list(self.closed)
        if self.current is not None:
            every.append(self.current)
        rows = [
            c
            for c in every
            if (start is None or c.open_time >= start) and (end is None or c.open_time <= end)
        ]
        return rows[:limit] if start is not None else rows[-limit:]


class SymbolCandles:
    """Every interval's candles of one symbol, fed trade by trade."""

    __slots__ = ("series",)

    def __init__(self) -> None:
        self.series = {interval: CandleSeries(interval) for interval in INTERVALS}

    def add_trade(
        self,
        ms: int,
        price: int,
        qty: int,
        quote: int,
        taker_buy: bool,
        first_id: int,
        last_id: int,
    ) -> list[tuple[str, Candle]]:
        """Add one aggregated trade to every interval; return ``(interval, candle)`` closed.

        The common case (the trade falls in each open candle, which already has trades) is
        inlined: the price loop calls this for every update of every symbol."""
        closed: list[tuple[str, Candle]] = []
        for series in self.series.values():
            c = series.current
            if c is None or ms > c.close_time or c.trades == 0:
                done = series.add_trade(ms, price, qty, quote, taker_buy, first_id, last_id)
                if done:
                    closed.extend((series.interval, candle) for candle in done)
                continue
            if price > c.high:
                c.high = price
            elif price < c.low:
                c.low = price
            c.close = price
            c.last_trade = last_id
            c.trades += last_id - first_id + 1
            c.volume += qty
            c.quote_volume += quote
            if taker_buy:
                c.taker_buy_volume += qty
                c.taker_buy_quote += quote
        return closed

    def roll_to(self, ms: int) -> None:
        """Bring every interval up to ``ms`` (a query at a time with no trade since)."""
        for series in self.series.values():
            series.roll_to(ms)

    def seed(self, minutes: list[Candle]) -> None:
        """Start from contiguous closed 1-minute candles (oldest first); each longer interval
        aggregates a shorter one (the last candle of each stays open: live trades continue it)."""
        self.series["1m"].closed.extend(minutes)
        if not minutes:
            return
        for interval, source in _SEED_FROM.items():
            lower = self.series[source]
            parts = list(lower.closed)
            if lower.current is not None:
                parts.append(lower.current)
            groups = _aggregate(interval, parts)
            series = self.series[interval]
            series.closed.extend(groups[:-1])
            series.current = groups[-1]


_SEED_FROM: Final = {
    "3m": "1m",
    "5m": "1m",
    "15m": "5m",
    "30m": "15m",
    "1h": "30m",
    "2h": "1h",
    "4h": "1h",
    "6h": "1h",
    "8h": "1h",
    "12h": "1h",
    "1d": "1h",
    "3d": "1d",
    "1w": "1d",
    "1M": "1d",
}
"""Which shorter interval each longer one is aggregated from when seeding (each divides it)."""


def _aggregate(interval: str, parts: list[Candle]) -> list[Candle]:
    """The ``interval`` candles made of contiguous shorter ones (oldest first)."""
    groups: list[Candle] = []
    c: Candle | None = None
    for m in parts:
        if c is None or m.open_time > c.close_time:
            start = open_time_of(interval, m.open_time)
            c = Candle(start, close_time_of(interval, start), m.open, m.high, m.low, 0)
            groups.append(c)
        elif m.high > c.high:
            c.high = m.high
        if m.low < c.low:
            c.low = m.low
        c.close = m.close
        c.trades += m.trades
        c.volume += m.volume
        c.quote_volume += m.quote_volume
        c.taker_buy_volume += m.taker_buy_volume
        c.taker_buy_quote += m.taker_buy_quote
    return groups


def seed_history(
    *,
    seed: int,
    symbol: str,
    end_open: int,
    end_mid: float,
    tick_units: int,
    top_units: int,
    volatility_per_sqrt_second: float,
    minutes: int = HISTORY_MINUTES,
) -> list[Candle]:
    """``minutes`` closed 1-minute candles before ``end_open`` (none before the epoch): a seeded
    random walk of the mid, in ticks, run backwards from ``end_mid`` so the last close joins
    the live price path. Deterministic for ``(seed, symbol)``; the live path is not touched."""
    rng = random.Random(f"{seed}:history:{symbol}")
    gauss, uniform = rng.gauss, rng.random
    count = min(minutes, max(0, end_open // MINUTE_MS))
    sigma = volatility_per_sqrt_second * math.sqrt(60)  # one minute's move
    closes: list[float] = [end_mid]  # backwards: each minute opens at the previous close
    for _ in range(count):
        closes.append(max(2.0, closes[-1] / math.exp(sigma * gauss(0.0, 1.0))))
    closes.reverse()  # oldest first; closes[0] opens the first minute, closes[-1] is the start
    candles: list[Candle] = []
    for i in range(count):
        open_ms = end_open - (count - i) * MINUTE_MS
        first, last = closes[i], closes[i + 1]
        reach = sigma * first / 2  # wicks beyond the open and close
        o = int(first) * tick_units
        c = int(last) * tick_units
        high = int(max(first, last) + reach * uniform()) * tick_units
        low = int(max(1.0, min(first, last) - reach * uniform())) * tick_units
        mid = (high + low) // 2
        # the minute's trades, like the live path's: 1-5 per update, 0.1-20 % of the top size
        volume = max(1, int(top_units * _UPDATES_PER_MINUTE * (0.001 + uniform() * 0.199)))
        taker = int(volume * uniform())
        candles.append(
            Candle(
                open_ms,
                open_ms + MINUTE_MS - 1,
                o,
                high,
                low,
                c,
                volume=volume,
                quote_volume=volume * mid,
                trades=_UPDATES_PER_MINUTE * (1 + int(uniform() * 5)),
                taker_buy_volume=taker,
                taker_buy_quote=taker * mid,
            )
        )
    return candles
