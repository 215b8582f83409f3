"""The symbol filters the simulator enforces on a new order, with Binance USD-M's error codes
and messages (F:error-code; F:common-definition "Filters").

Checked in this order, the first broken rule answers:

| rule | code | message |
|---|---|---|
| quantity <= 0 | -4003 | Quantity less than or equal to zero. |
| more decimals than the precision | -1111 | Precision is over the maximum defined for ... |
| ``(MARKET_)LOT_SIZE`` minQty | -4004 | Quantity less than min quantity. |
| ... maxQty | -4005 | Quantity greater than max quantity. |
| ... ``(qty - minQty) % stepSize`` | -4023 | Qty not increased by step size. |
| ``PRICE_FILTER`` price <= 0 | -4001 | Price less than 0. |
| ... minPrice | -4013 | Price less than min price. |
| ... maxPrice | -4002 | Price greater than max price. |
| ... ``(price - minPrice) % tickSize`` | -4014 | Price not increased by tick size. |
| ``PERCENT_PRICE`` BUY above mark x multiplierUp | -4016 | Limit price can't be higher than %s. |
| ... SELL below mark x multiplierDown | -4024 | Limit price can't be lower than %s. |
| ... MARKET: best ask (BUY) / bid (SELL) outside the band | -4131 | The counterparty's best ... |
| ``MIN_NOTIONAL`` (not reduce-only) | -4164 | Order's notional must be no smaller than %s ... |

(-4131's message in full: "The counterparty's best price does not meet the PERCENT_PRICE filter
limit.")

``LOT_SIZE`` applies to LIMIT orders, ``MARKET_LOT_SIZE`` to MARKET ones; a MARKET order's
notional is valued at the mark price.

``MAX_NUM_ORDERS`` (-2025 "Reach max open order limit.") and the leverage bracket's position cap
(-2027 "Exceeded the maximum allowable position at current leverage.") are checked by the
engine, which knows the open orders and the position.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Final

from .errors import BinanceError
from .symbols import SymbolSpec

FILTER_CODES: Final = frozenset(
    {
        -1111,
        -4001,
        -4002,
        -4003,
        -4004,
        -4005,
        -4013,
        -4014,
        -4016,
        -4023,
        -4024,
        -4131,
        -4164,
        -2025,
        -2027,
    }
)
"""Codes of a refusal for one of the symbol's filters (counted apart by the simulator)."""


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def check_order(
    spec: SymbolSpec,
    *,
    side: str,
    market: bool,
    quantity: Decimal,
    price: Decimal | None,
    reduce_only: bool,
    mark: Decimal,
    best: Decimal | None = None,
) -> None:
    """Raise the ``BinanceError`` Binance answers for the first filter the order breaks.

    ``best``: a MARKET order's counterparty best price (the best ask for a BUY, the best bid
    for a SELL), checked against the ``PERCENT_PRICE`` band; ``None``: not checked."""
    if quantity <= 0:
        raise BinanceError(400, -4003, "Quantity less than or equal to zero.")
    if _decimals(quantity) > spec.quantity_precision or (
        price is not None and _decimals(price) > spec.price_precision
    ):
        raise BinanceError(400, -1111, "Precision is over the maximum defined for this asset.")
    low = spec.lot_min_qty(market=market)
    if quantity < low:
        raise BinanceError(400, -4004, "Quantity less than min quantity.")
    if quantity > spec.lot_max_qty(market=market):
        raise BinanceError(400, -4005, "Quantity greater than max quantity.")
    if (quantity - low) % spec.lot_step(market=market):
        raise BinanceError(400, -4023, "Qty not increased by step size.")
    if price is not None:
        if price <= 0:
            raise BinanceError(400, -4001, "Price less than 0.")
        if price < spec.min_price_value:
            raise BinanceError(400, -4013, "Price less than min price.")
        if price > spec.max_price:
            raise BinanceError(400, -4002, "Price greater than max price.")
        if (price - spec.min_price_value) % spec.tick_size:
            raise BinanceError(400, -4014, "Price not increased by tick size.")
        if side == "BUY" and price > mark * spec.multiplier_up:
            limit = spec.fmt_price(mark * spec.multiplier_up)
            raise BinanceError(400, -4016, f"Limit price can't be higher than {limit}.")
        if side == "SELL" and price < mark * spec.multiplier_down:
            limit = spec.fmt_price(mark * spec.multiplier_down)
            raise BinanceError(400, -4024, f"Limit price can't be lower than {limit}.")
    elif market and best is not None:
        up, down = mark * spec.multiplier_up, mark * spec.multiplier_down
        if best > up if side == "BUY" else best < down:
            raise BinanceError(
                400,
                -4131,
                "The counterparty's best price does not meet the PERCENT_PRICE filter limit.",
            )
    reference = price if price is not None else mark
    if not reduce_only and quantity * reference < spec.min_notional:
        raise BinanceError(
            400,
            -4164,
            f"Order's notional must be no smaller than {spec.min_notional} "
            "(unless you choose reduce only).",
        )


class Refusals:
    """Orders the simulator refused, by error code (``filters``: for a filter only)."""

    def __init__(self) -> None:
        self.by_code: Counter[int] = Counter()

    def count(self, code: int) -> None:
        """One more refusal with ``code``."""
        self.by_code[code] += 1

    @property
    def filters(self) -> int:
        """Refusals for a filter."""
        return sum(n for code, n in self.by_code.items() if code in FILTER_CODES)
