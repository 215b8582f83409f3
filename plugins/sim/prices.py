"""A seeded random price path per symbol, producing quotes and trades (candles: ``candles``).

Prices and quantities are kept as integers in units of ``10**-precision`` so the hot path (thousands
of ticks per second) formats strings without Decimal arithmetic.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal

from .engine import Quote
from .symbols import SymbolSpec

VOLATILITY_PER_SQRT_SECOND = 0.0002


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
        self.last: Tick = self._make_tick()

    def step(self) -> Tick:
        """Move the price one step and return the new tick."""
        self.mid_ticks *= math.exp(self.sigma * self.rng.gauss(0.0, 1.0))
        self.mid_ticks = max(self.mid_ticks, 2.0)
        return self._make_tick()

    def jump(self, price: Decimal) -> Tick:
        """Put the mid price at ``price`` (rounded to ticks) and return the new tick."""
        self.mid_ticks = max(float(price / self.spec.tick_size), 2.0)
        return self._make_tick()

    def set_quote(self, bid: int, bid_qty: int, ask: int, ask_qty: int) -> Tick:
        """Take a top of book from elsewhere (paper trading: the venue's live quote), in units;
        the tick's trade fields repeat the last trade (quotes carry none)."""
        self.mid_ticks = max((bid + ask) / 2 / self.tick_units, 2.0)
        last = self.last
        self.update_id += 1
        self.last = Tick(
            bid,
            bid_qty,
            ask,
            ask_qty,
            last.trade_price,
            last.trade_qty,
            last.buyer_maker,
            last.agg_id,
            last.first_trade_id,
            last.last_trade_id,
            self.update_id,
        )
        return self.last

    def set_trade(self, price: int, qty: int, buyer_maker: bool, trades: int) -> Tick:
        """Record a trade from elsewhere (paper trading: the venue's aggTrade), in units; the
        book stays as it is. Ids are this venue's own, so they stay increasing."""
        last = self.last
        self.agg_id += 1
        first = self.trade_id + 1
        self.trade_id += max(trades, 1)
        self.last = Tick(
            last.bid,
            last.bid_qty,
            last.ask,
            last.ask_qty,
            price,
            qty,
            buyer_maker,
            self.agg_id,
            first,
            self.trade_id,
            last.update_id,
        )
        return self.last

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
