"""The aggregated trades of the simulator's candle history, for ``GET /fapi/v1/aggTrades``.

The seeded 1-minute candles before the start have no streamed trades behind them; this makes
each minute's trades on demand, deterministically (the same seed gives the same trades),
consistent with its candle: the first trade is at the open, the last at the close, the
nearer of high and low comes before the other (the backtest's intra-candle path), every other
price lies between low and high; the quantities add up to the volume, the taker-buy ones
(``m`` false) to the taker buy volume, and the trades they aggregate (``l - f + 1``) to the
candle's count. The quote volume is not reproduced. Ids increase with time and end just
before the live path's first ids. Nothing is stored per trade: memory is per minute.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Sequence

from .candles import MINUTE_MS, Candle
from .market_wire import AggRecord

PER_MINUTE = 20
"""Aggregated trades made per history minute (fewer when the volume or the count is smaller)."""


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` as ``parts`` positive integers (``parts <= total``), at random cuts."""
    if parts <= 0:
        return []
    cuts = sorted(rng.sample(range(1, total), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def _size(candle: Candle) -> int:
    if candle.volume <= 0 or candle.trades <= 0:
        return 0
    return min(PER_MINUTE, candle.volume, candle.trades)


def minute_trades(
    candle: Candle, tick_units: int, rng: random.Random, first_agg: int, first_trade: int
) -> list[AggRecord]:
    """One minute's aggregated trades (integer units), ids from ``first_agg``/``first_trade``."""
    n = _size(candle)
    if n == 0:
        return []
    o, h, lo, c = candle.open, candle.high, candle.low, candle.close
    # Prices between the extremes stay off them (when the range allows), so each extreme is
    # first met where the path puts it.
    ticks = max(0, (h - lo) // tick_units)
    inner = (1, ticks - 1) if ticks >= 2 else (0, ticks)
    prices = [lo + tick_units * rng.randint(*inner) for _ in range(n)]
    if n >= 4:
        nearer, other = (h, lo) if h - o <= o - lo else (lo, h)
        prices[n // 4] = nearer
        prices[n // 2] = other
    prices[0] = o
    prices[-1] = c
    volume, taker = candle.volume, min(max(candle.taker_buy_volume, 0), candle.volume)
    maker_volume = volume - taker
    low_nb = max(1 if taker else 0, n - maker_volume)
    high_nb = min(taker, n - (1 if maker_volume else 0))
    nb = min(high_nb, max(low_nb, round(n * taker / volume)))
    if low_nb > high_nb:  # one trade with both kinds of volume: the larger one decides
        nb = n if taker * 2 > volume else 0
        taker_qty, maker_qty = ([volume], []) if nb else ([], [volume])
    else:
        taker_qty, maker_qty = _split(taker, nb, rng), _split(maker_volume, n - nb, rng)
    takers = set(rng.sample(range(n), nb))
    counts = _split(candle.trades, n, rng)
    step = MINUTE_MS // n
    rows: list[AggRecord] = []
    trade_id = first_trade
    for j in range(n):
        buy = j in takers
        qty = taker_qty.pop() if buy else maker_qty.pop()
        last = trade_id + counts[j] - 1
        time = candle.open_time + j * step + rng.randrange(step)
        rows.append(AggRecord(first_agg + j, prices[j], qty, trade_id, last, time, not buy))
        trade_id = last + 1
    return rows


class HistoryTrades:
    """The trades of one symbol's history minutes, made when asked for."""

    def __init__(
        self,
        minutes: Sequence[Candle],
        *,
        tick_units: int,
        key: str,
        next_agg_id: int,
        next_trade_id: int,
    ) -> None:
        self._minutes = list(minutes)
        self._opens = [m.open_time for m in self._minutes]
        self._tick = tick_units
        self._key = key
        sizes = [_size(m) for m in self._minutes]
        counts = [m.trades if size else 0 for m, size in zip(self._minutes, sizes, strict=True)]
        # Ids run backwards from the live path's first ones.
        agg, trade = next_agg_id - sum(sizes), next_trade_id - sum(counts)
        self._first_agg: list[int] = []
        self._first_trade: list[int] = []
        for size, count in zip(sizes, counts, strict=True):
            self._first_agg.append(agg)
            self._first_trade.append(trade)
            agg += size
            trade += count

    def _minute(self, i: int) -> list[AggRecord]:
        candle = self._minutes[i]
        rng = random.Random(f"{self._key}:{candle.open_time}")
        return minute_trades(candle, self._tick, rng, self._first_agg[i], self._first_trade[i])

    def _forward(self, i: int) -> Iterator[AggRecord]:
        for k in range(max(i, 0), len(self._minutes)):
            yield from self._minute(k)

    def after(
        self, from_id: int | None, start: int | None, end: int | None, limit: int
    ) -> list[AggRecord]:
        """Up to ``limit`` trades from ``from_id`` or ``start`` on (oldest first), up to ``end``."""
        if from_id is not None:
            i = bisect.bisect_right(self._first_agg, from_id) - 1
        elif start is not None:
            i = bisect.bisect_right(self._opens, start) - 1
        else:
            i = 0
        rows: list[AggRecord] = []
        for r in self._forward(i):
            if end is not None and r.time > end:
                break
            if (from_id is None or r.agg_id >= from_id) and (start is None or r.time >= start):
                rows.append(r)
                if len(rows) == limit:
                    break
        return rows

    def before(self, end: int | None, limit: int) -> list[AggRecord]:
        """The last ``limit`` trades up to ``end`` (oldest first)."""
        i = len(self._minutes) if end is None else bisect.bisect_right(self._opens, end)
        rows: list[AggRecord] = []
        while i > 0 and len(rows) < limit:
            i -= 1
            minute = [r for r in self._minute(i) if end is None or r.time <= end]
            rows[:0] = minute
        return rows[-limit:] if limit else []
