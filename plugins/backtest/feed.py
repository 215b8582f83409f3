"""Market data as a stream of prices in time order: candles along the intra-candle path, or
trades where a day has them; gaps found on the way are listed, never filled."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from loguru import logger

from .data import (
    DAY_MS,
    INTERVAL_MS,
    TRADES,
    DataError,
    Gap,
    day_start,
    days,
    index_folder,
    iso,
    kline_name,
    read_klines,
    read_trades,
)

PriceEvent = tuple[int, int, Decimal]
"""(time in ms, symbol index, price)."""


def candle_path(o: Decimal, h: Decimal, low: Decimal, c: Decimal) -> tuple[Decimal, ...]:
    """Open, then the nearer of high and low (high on a tie), then the other, then close."""
    if h - o <= o - low:
        return (o, h, low, c)
    return (o, low, h, c)


@dataclass
class SymbolData:
    """Where one symbol's data is, by day."""

    symbol: str
    klines: dict[date, Path]
    trades: dict[date, Path] = field(default_factory=dict)


def locate(
    folder: Path, symbols: list[str], interval: str, start_ms: int, end_ms: int
) -> list[SymbolData]:
    """Each symbol's files for the period; ``DataError`` naming the symbol when it has no data
    at all, or none in the period. Days without a file are logged (a gap, in the results)."""
    if interval not in INTERVAL_MS:
        raise DataError(f"interval {interval!r} is not one of {', '.join(INTERVAL_MS)}")
    klines = index_folder(folder, interval)
    trades = index_folder(folder, TRADES)
    wanted = days(start_ms, end_ms)
    out: list[SymbolData] = []
    for symbol in symbols:
        own = SymbolData(symbol, klines.get(symbol, {}), trades.get(symbol, {}))
        held = sorted(set(own.klines) | set(own.trades))
        if not held:
            raise DataError(
                f"{symbol}: no data in {folder} (no file named like "
                f"{kline_name(symbol, interval, wanted[0])} or its .zip; "
                "`tradeloop download-data` fetches it)"
            )
        missing = [d for d in wanted if d not in own.klines and d not in own.trades]
        if len(missing) == len(wanted):
            raise DataError(
                f"{symbol}: the period {iso(start_ms)} to {iso(end_ms)} is outside the data "
                f"in {folder} ({held[0].isoformat()} to {held[-1].isoformat()})"
            )
        for day in missing:
            logger.warning(
                "{}: no data file for {} (a gap: reported in the results, not filled)",
                symbol,
                day.isoformat(),
            )
        out.append(own)
    return out


class SymbolFeed:
    """One symbol's prices from ``start_ms`` to ``end_ms``; appends the gaps it meets."""

    def __init__(
        self,
        data: SymbolData,
        index: int,
        interval: str,
        start_ms: int,
        end_ms: int,
        gaps: list[Gap],
    ) -> None:
        self.data = data
        self.index = index
        self.step = INTERVAL_MS[interval]
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.gaps = gaps
        self.candles = 0
        self.trades = 0

    def _gap(self, start: int, end: int) -> None:
        gap = Gap(self.data.symbol, start, end)
        self.gaps.append(gap)
        logger.warning("{} (a gap: reported in the results, not filled)", gap.describe())

    def __iter__(self) -> Iterator[PriceEvent]:
        index, step = self.index, self.step
        start, end = self.start_ms, self.end_ms
        q1, q2, last = step // 4, step // 2, step - 1
        expected = start
        for day in days(start, end):
            trades = self.data.trades.get(day)
            if trades is not None:
                day_end = min(end, day_start(day) + DAY_MS)
                first = True
                for t, price in read_trades(trades):
                    if t < start or t >= end:
                        continue
                    if first:
                        if t - expected > step:
                            self._gap(expected, t)
                        first = False
                    self.trades += 1
                    yield t, index, price
                expected = max(expected, day_end)
                continue
            path = self.data.klines.get(day)
            if path is None:
                continue
            for t, o, h, low, c in read_klines(path):
                if t < start or t >= end:
                    continue
                if t < expected:
                    raise DataError(
                        f"{self.data.symbol}: the candle at {iso(t)} in {path.name} repeats or "
                        f"goes back in time (expected {iso(expected)} next): overlapping data"
                    )
                if t > expected:
                    self._gap(expected, t)
                self.candles += 1
                expected = t + step
                if h - o <= o - low:
                    yield t, index, o
                    yield t + q1, index, h
                    yield t + q2, index, low
                else:
                    yield t, index, o
                    yield t + q1, index, low
                    yield t + q2, index, h
                yield t + last, index, c
        if expected < end:
            self._gap(expected, end)


def merged(feeds: list[SymbolFeed]) -> Iterator[PriceEvent]:
    """Every feed's prices in time order (symbol order on a tie)."""
    return heapq.merge(*feeds)
