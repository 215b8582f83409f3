"""Binance wire shapes of the market data: klines, the book, tickers, trades, funding.

Prices and volumes come as integer units (``candles``, ``prices``) or Decimals (the engine's
book) and are rendered with the contract's precisions, as Binance renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from .candles import Candle
from .prices import units_to_str
from .symbols import SymbolSpec

JSON = dict[str, Any]
FUNDING_MS = 8 * 3_600_000
FUNDING_RATE = "0.00010000"
"""The simulator's constant funding (and interest) rate, as in ``@markPrice``."""


class AggRecord(NamedTuple):
    """One aggregated trade the price loop streamed (integer units)."""

    agg_id: int
    price: int
    qty: int
    first_id: int
    last_id: int
    time: int
    buyer_maker: bool


def next_funding(now: int) -> int:
    """The next funding time (every 8 h from 00:00 UTC) after ``now`` (ms)."""
    return now - now % FUNDING_MS + FUNDING_MS


# ----------------------------------------------------------------------------- klines


def kline_row(c: Candle, pp: int, qp: int) -> list[Any]:
    """A row of ``GET /fapi/v1/klines``."""
    qq = pp + qp
    return [
        c.open_time,
        units_to_str(c.open, pp),
        units_to_str(c.high, pp),
        units_to_str(c.low, pp),
        units_to_str(c.close, pp),
        units_to_str(c.volume, qp),
        c.close_time,
        units_to_str(c.quote_volume, qq),
        c.trades,
        units_to_str(c.taker_buy_volume, qp),
        units_to_str(c.taker_buy_quote, qq),
        "0",
    ]


def kline_event(symbol: str, interval: str, c: Candle, pp: int, qp: int, now: int) -> JSON:
    """``<symbol>@kline_<interval>``; ``x`` is true once the candle's close time has passed."""
    qq = pp + qp
    return {
        "e": "kline",
        "E": now,
        "s": symbol,
        "k": {
            "t": c.open_time,
            "T": c.close_time,
            "s": symbol,
            "i": interval,
            "f": c.first_trade,
            "L": c.last_trade,
            "o": units_to_str(c.open, pp),
            "c": units_to_str(c.close, pp),
            "h": units_to_str(c.high, pp),
            "l": units_to_str(c.low, pp),
            "v": units_to_str(c.volume, qp),
            "n": c.trades,
            "x": now > c.close_time,
            "q": units_to_str(c.quote_volume, qq),
            "V": units_to_str(c.taker_buy_volume, qp),
            "Q": units_to_str(c.taker_buy_quote, qq),
            "B": "0",
        },
    }


# ----------------------------------------------------------------------------- book


def _levels(spec: SymbolSpec, rows: Sequence[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[spec.fmt_price(p), spec.fmt_qty(q)] for p, q in rows]


def depth(
    spec: SymbolSpec,
    book: tuple[list[tuple[Decimal, Decimal]], ...],
    update_id: int,
    now: int,
) -> JSON:
    """``GET /fapi/v1/depth``."""
    bids, asks = book
    return {
        "lastUpdateId": update_id,
        "E": now,
        "T": now,
        "bids": _levels(spec, bids),
        "asks": _levels(spec, asks),
    }


def depth_event(
    spec: SymbolSpec,
    book: tuple[list[tuple[Decimal, Decimal]], ...],
    first_id: int,
    update_id: int,
    previous_id: int,
    now: int,
) -> JSON:
    """``<symbol>@depth<levels>`` (partial book): the top levels as they are now."""
    bids, asks = book
    return {
        "e": "depthUpdate",
        "E": now,
        "T": now,
        "s": spec.symbol,
        "U": first_id,
        "u": update_id,
        "pu": previous_id,
        "b": _levels(spec, bids),
        "a": _levels(spec, asks),
    }


# ----------------------------------------------------------------------------- tickers


def ticker_24h(
    spec: SymbolSpec, day: Sequence[Candle], last: AggRecord | None, now: int, close: int
) -> JSON:
    """``GET /fapi/v1/ticker/24hr`` from the 1-minute candles of the last 24 h (oldest first)
    and the last trade; ``close`` is the last price in units when no trade was streamed."""
    pp, qp = spec.price_precision, spec.quantity_precision
    last_price = last.price if last is not None else close
    open_price = day[0].open if day else last_price
    high = max((c.high for c in day), default=last_price)
    low = min((c.low for c in day), default=last_price)
    volume = sum(c.volume for c in day)
    quote = sum(c.quote_volume for c in day)
    count = sum(c.trades for c in day)
    last_id = last.last_id if last is not None else 0
    change = Decimal(last_price - open_price).scaleb(-pp)
    percent = change / Decimal(open_price).scaleb(-pp) * 100 if open_price else Decimal(0)
    weighted = Decimal(quote).scaleb(-(pp + qp)) / Decimal(volume).scaleb(-qp) if volume else 0
    return {
        "symbol": spec.symbol,
        "priceChange": units_to_str(last_price - open_price, pp),
        "priceChangePercent": f"{percent:.3f}",
        "weightedAvgPrice": spec.fmt_price(Decimal(weighted)),
        "lastPrice": units_to_str(last_price, pp),
        "lastQty": units_to_str(last.qty if last is not None else 0, qp),
        "openPrice": units_to_str(open_price, pp),
        "highPrice": units_to_str(high, pp),
        "lowPrice": units_to_str(low, pp),
        "volume": units_to_str(volume, qp),
        "quoteVolume": units_to_str(quote, pp + qp),
        "openTime": day[0].open_time if day else now,
        "closeTime": now,
        "firstId": max(0, last_id - count + 1),
        "lastId": last_id,
        "count": count,
    }


def price_ticker(spec: SymbolSpec, price: int, now: int) -> JSON:
    """``GET /fapi/v1/ticker/price`` (and ``/fapi/v2/ticker/price``): the last trade price."""
    return {"symbol": spec.symbol, "price": units_to_str(price, spec.price_precision), "time": now}


def book_ticker(spec: SymbolSpec, bid: int, bid_qty: int, ask: int, ask_qty: int, now: int) -> JSON:
    """``GET /fapi/v1/ticker/bookTicker``."""
    pp, qp = spec.price_precision, spec.quantity_precision
    return {
        "symbol": spec.symbol,
        "bidPrice": units_to_str(bid, pp),
        "bidQty": units_to_str(bid_qty, qp),
        "askPrice": units_to_str(ask, pp),
        "askQty": units_to_str(ask_qty, qp),
        "time": now,
    }


# ----------------------------------------------------------------------------- trades


def agg_trade_row(r: AggRecord, spec: SymbolSpec) -> JSON:
    """A row of ``GET /fapi/v1/aggTrades``."""
    return {
        "a": r.agg_id,
        "p": units_to_str(r.price, spec.price_precision),
        "q": units_to_str(r.qty, spec.quantity_precision),
        "f": r.first_id,
        "l": r.last_id,
        "T": r.time,
        "m": r.buyer_maker,
    }


# ----------------------------------------------------------------------------- funding


def premium_index(spec: SymbolSpec, mark: str, now: int) -> JSON:
    """``GET /fapi/v1/premiumIndex``: mark, index and settle price are the mid."""
    return {
        "symbol": spec.symbol,
        "markPrice": mark,
        "indexPrice": mark,
        "estimatedSettlePrice": mark,
        "lastFundingRate": FUNDING_RATE,
        "interestRate": FUNDING_RATE,
        "nextFundingTime": next_funding(now),
        "time": now,
    }


def funding_row(symbol: str, at: int, mark: str) -> JSON:
    """A row of ``GET /fapi/v1/fundingRate``."""
    return {"symbol": symbol, "fundingRate": FUNDING_RATE, "fundingTime": at, "markPrice": mark}


def open_interest(spec: SymbolSpec, amount: Decimal, now: int) -> JSON:
    """``GET /fapi/v1/openInterest``."""
    return {"openInterest": spec.fmt_qty(amount), "symbol": spec.symbol, "time": now}
