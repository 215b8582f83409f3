"""Candles of the data folder before a time: what ``ctx.history`` answers in a backtest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from framework.errors import TradeloopError
from framework.types import Candle

from .data import INTERVAL_MS, day_of, read_full_klines

MAX_DAYS_BACK = 400


class CandleHistory:
    """Reads the folder's ``interval`` files backwards from a time; aggregates them to longer
    intervals. Only candles closed before that time are returned (no look-ahead)."""

    def __init__(self, files: dict[str, dict], interval: str) -> None:  # type: ignore[type-arg]
        self.files = files
        self.interval = interval
        self.step = INTERVAL_MS[interval]

    def __call__(self, symbol: str, interval: str, limit: int, now_ms: int) -> list[Candle]:
        """The ``limit`` most recent closed candles of ``symbol`` before ``now_ms``."""
        wanted = INTERVAL_MS.get(interval)
        if wanted is None or wanted % self.step:
            raise TradeloopError(
                f"no {interval} history in a backtest on {self.interval} data (intervals that "
                f"are whole multiples of {self.interval} up to 1d are)"
            )
        factor = wanted // self.step
        need = limit * factor + factor
        found: list[Candle] = []
        by_day: dict = self.files.get(symbol, {})  # type: ignore[type-arg]
        day = day_of(now_ms)
        for _ in range(MAX_DAYS_BACK):
            if len(found) >= need or not by_day or day < min(by_day):
                break
            path: Path | None = by_day.get(day)
            if path is not None:
                rows = [
                    c
                    for c in read_full_klines(path, symbol, self.interval)
                    if c.close_time < now_ms and day_of(c.open_time) == day
                ]
                found[:0] = rows
            day -= timedelta(1)
        if factor == 1:
            return found[-limit:]
        return _aggregate(found, interval, wanted, now_ms)[-limit:]


def _aggregate(candles: list[Candle], interval: str, step: int, now_ms: int) -> list[Candle]:
    out: list[Candle] = []
    group: list[Candle] = []
    for candle in candles:
        if (
            group
            and candle.open_time - candle.open_time % step
            != group[0].open_time - group[0].open_time % step
        ):
            out.append(_merge(group, interval, step))
            group = []
        group.append(candle)
    if group:
        out.append(_merge(group, interval, step))
    return [c for c in out if c.close_time < now_ms]


def _merge(group: list[Candle], interval: str, step: int) -> Candle:
    start = group[0].open_time - group[0].open_time % step
    return Candle(
        symbol=group[0].symbol,
        interval=interval,
        open_time=start,
        close_time=start + step - 1,
        open=group[0].open,
        high=max(c.high for c in group),
        low=min(c.low for c in group),
        close=group[-1].close,
        volume=sum((c.volume for c in group), group[0].volume * 0),
        quote_volume=sum((c.quote_volume for c in group), group[0].volume * 0),
        trades=sum(c.trades for c in group),
        closed=True,
    )
