"""Candle history (``GET /fapi/v1/klines``), paged so it costs as little weight as it can.

The klines weight grows with ``limit`` ([1,100) 1, [100,500) 2, [500,1000] 5, above 10), so
pages of 499 candles are the cheapest per candle: a 200-candle warm-up is one request of weight
2, 1,500 candles are four requests (weight 2+2+2+1 = 7 instead of 10). Each page goes through
the rate governor like every request (paced near the limit, refused rather than waiting past
``max_rate_wait``) and every row is checked (``checks.rest_kline_problem``); an answer holding
one insane row is refused whole, so a history never has a silent hole.
"""

from __future__ import annotations

from typing import Any, Final

from framework.types import CANDLE_INTERVALS, Candle

from .checks import rest_kline_problem
from .decode import RestKline
from .errors import ServerError
from .rest import RestClient
from .rows import Rows

KLINES_PATH: Final = "/fapi/v1/klines"
CHEAPEST_PAGE: Final = 499
"""The largest page of weight 2: the least weight per candle."""


def klines_weight(limit: int) -> int:
    """Request weight of one ``klines`` call of ``limit`` candles."""
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def page_sizes(limit: int) -> list[int]:
    """The pages ``limit`` candles are read in (most recent first), e.g. 1200 -> 499, 499, 202."""
    pages = []
    while limit > 0:
        size = min(limit, CHEAPEST_PAGE)
        pages.append(size)
        limit -= size
    return pages


async def fetch_candles(rest: RestClient, symbol: str, interval: str, limit: int) -> list[Candle]:
    """The ``limit`` most recent ``interval`` candles of ``symbol``, oldest first; fewer if the
    exchange has less. ``ValueError`` for an interval Binance does not list."""
    if interval not in CANDLE_INTERVALS:
        raise ValueError(f"interval {interval!r} is not one of {', '.join(CANDLE_INTERVALS)}")
    pages: list[list[RestKline]] = []
    end: int | None = None
    for size in page_sizes(limit):
        params: dict[str, Any] = {"symbol": symbol, "interval": interval, "limit": size}
        if end is not None:
            params["endTime"] = end
        rows = await rest.request(
            "GET",
            KLINES_PATH,
            params,
            type=Rows[RestKline],
            weight=klines_weight(size),
            decode=rest.rows(RestKline, rest_kline_problem),
        )
        if rows.bad:  # already counted and logged by the client
            raise ServerError(
                200, 0, f"answer refused: {rows.bad[0].problem}", request=f"GET {KLINES_PATH}"
            )
        page = sorted(rows.good, key=lambda k: k.open_time)
        if end is not None:
            page = [k for k in page if k.open_time <= end]
        pages.append(page)
        if len(page) < size:
            break  # the exchange has no older candles
        end = page[0].open_time - 1
    now = rest.time.now_ms()
    candles = [k for page in reversed(pages) for k in page]
    return [k.to_candle(symbol, interval, now_ms=now) for k in candles[-limit:]]
