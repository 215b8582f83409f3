"""A seeded random price path per symbol, producing quotes, trades and 1-minute klines.

Prices and quantities are kept as integers in units of ``10**-precision`` so the hot path (thousands
of ticks per second) formats strings without Decimal arithmetic.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from .engine import Quote
from .symbols import SymbolSpec

VOLATILITY_PER_SQRT_SECOND = 0.0002
KLINE_MS = 60_000


def units_to_str(units: int, precision: int) -> str:
    """Render an integer number of ``10**-precision`` units as a fixed-point string."""
    if precision == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**precision)
    return f"{sign}{whole}.{frac:0{precision}d}"


@dataclass(slots=True)
class Tick:
    """One market update: the new top of book and one aggregated trade."""

    bid: int
    bid_qty: int
    ask: int
    ask_qty: int
    trade_price: int
    trade_qty: int
    buyer_maker: bool
    agg_id: int
    first_trade_id: int
    last_trade_id: int
    update_id: int


@dataclass(slots=True)
class Kline:
    """The current 1-minute candle (prices and volumes in integer units)."""

    open_time: int
    open: int
    high: int
    low: int
    close: int
    first_trade: int
    last_trade: int
    trades: int = 0
    volume: int = 0
    quote_volume: Decimal = field(default_factory=Decimal)
    taker_buy_volume: int = 0
    taker_buy_quote: Decimal = field(default_factory=Decimal)


class PricePath:
    """Geometric random walk of the mid price, in ticks, driven by one ``random.Random``."""

    def __init__(self, spec: SymbolSpec, seed: int, updates_per_second: float) -> None:
        self.spec = spec
        self.rng = random.Random(f"{seed}:price:{spec.symbol}")
        self.pp = spec.price_precision
        self.qp = spec.quantity_precision
        self.tick_units = int(spec.tick_size.scaleb(self.pp))
        self.top_units = int(spec.top_qty.scaleb(self.qp))
        self.mid_ticks = float(spec.start_price / spec.tick_size)
        ups = max(updates_per_second, 1.0)
        self.sigma = VOLATILITY_PER_SQRT_SECOND / math.sqrt(ups)
        self.agg_id = 1_000_000
        self.trade_id = 3_000_000
        self.update_id = 7_000_000_000
        self.kline: Kline | None = None
        self.last: Tick = self._make_tick()

    def step(self, now_ms: int) -> Tick:
        """Move the price one step and return the new tick."""
        self.mid_ticks *= math.exp(self.sigma * self.rng.gauss(0.0, 1.0))
        self.mid_ticks = max(self.mid_ticks, 2.0)
        tick = self._make_tick()
        self._update_kline(tick, now_ms)
        return tick

    def jump(self, price: Decimal, now_ms: int) -> Tick:
        """Put the mid price at ``price`` (rounded to ticks) and return the new tick."""
        self.mid_ticks = max(float(price / self.spec.tick_size), 2.0)
        tick = self._make_tick()
        self._update_kline(tick, now_ms)
        return tick

    def quote(self) -> Quote:
        """The current top of book as Decimals."""
        t = self.last
        pp, qp = self.pp, self.qp
        return Quote(
            Decimal(t.bid).scaleb(-pp),
            Decimal(t.bid_qty).scaleb(-qp),
            Decimal(t.ask).scaleb(-pp),
            Decimal(t.ask_qty).scaleb(-qp),
        )

    def _make_tick(self) -> Tick:
        rng = self.rng
        bid_ticks = int(self.mid_ticks)
        bid = bid_ticks * self.tick_units
        ask = bid + self.tick_units
        top = self.top_units
        bid_qty = max(1, int(top * rng.uniform(0.2, 2.0)))
        ask_qty = max(1, int(top * rng.uniform(0.2, 2.0)))
        buyer_maker = rng.random() < 0.5
        trade_qty = max(1, int(top * rng.uniform(0.001, 0.2)))
        trades = rng.randint(1, 5)
        self.agg_id += 1
        first = self.trade_id + 1
        self.trade_id += trades
        self.update_id += rng.randint(1, 40)
        self.last = Tick(
            bid,
            bid_qty,
            ask,
            ask_qty,
            bid if buyer_maker else ask,
            trade_qty,
            buyer_maker,
            self.agg_id,
            first,
            self.trade_id,
            self.update_id,
        )
        return self.last

    def _update_kline(self, tick: Tick, now_ms: int) -> None:
        open_time = now_ms - now_ms % KLINE_MS
        price = tick.trade_price
        k = self.kline
        if k is None or k.open_time != open_time:
            k = Kline(open_time, price, price, price, price, tick.first_trade_id, 0)
            self.kline = k
        k.high = max(k.high, price)
        k.low = min(k.low, price)
        k.close = price
        k.last_trade = tick.last_trade_id
        k.trades += tick.last_trade_id - tick.first_trade_id + 1
        k.volume += tick.trade_qty
        quote = Decimal(price * tick.trade_qty).scaleb(-(self.pp + self.qp))
        k.quote_volume += quote
        if not tick.buyer_maker:
            k.taker_buy_volume += tick.trade_qty
            k.taker_buy_quote += quote
