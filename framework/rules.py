"""A symbol's exchange rules (filters, leverage brackets), rounding to them, and checking an
order request against them before it leaves.

The connector that provides the exchange reads the rules from the venue and publishes them
with ``ctx.publish_rules`` (docs/connector.md); strategies and plugins read them with
``ctx.rules(symbol)``. Money and quantities are ``Decimal``. The filters and their meaning
are Binance USD-M's (``exchangeInfo``): a rule whose value is 0 is off, as there.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Final, Literal

import msgspec

from framework.types import OrderRequest, OrderSide

ZERO: Final = Decimal(0)

FilterName = Literal[
    "PRICE_FILTER",
    "LOT_SIZE",
    "MARKET_LOT_SIZE",
    "MIN_NOTIONAL",
    "PERCENT_PRICE",
    "MAX_NUM_ORDERS",
    "LEVERAGE_BRACKET",
    "SYMBOL_STATUS",
]
FILTER_NAMES: Final[tuple[FilterName, ...]] = (
    "PRICE_FILTER",
    "LOT_SIZE",
    "MARKET_LOT_SIZE",
    "MIN_NOTIONAL",
    "PERCENT_PRICE",
    "MAX_NUM_ORDERS",
    "LEVERAGE_BRACKET",
    "SYMBOL_STATUS",
)


class LeverageBracket(msgspec.Struct, frozen=True, kw_only=True):
    """One notional bracket of a symbol: up to ``notional_cap`` of position notional, at
    most ``initial_leverage``, maintained at ``maint_margin_ratio`` (``cum``: Binance's
    auxiliary amount for the maintenance-margin formula)."""

    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal = ZERO


class FilterBreach(msgspec.Struct, frozen=True, kw_only=True):
    """One filter an order request breaks: which, and the values (``message``)."""

    filter: FilterName
    message: str

    def __str__(self) -> str:
        return f"{self.filter}: {self.message}"


def _floor_to(value: Decimal, step: Decimal, base: Decimal) -> Decimal:
    """The largest ``base + n * step`` (integer ``n``) not above ``value``."""
    units = ((value - base) / step).to_integral_value(rounding=ROUND_FLOOR)
    return base + units * step


def _ceil_to(value: Decimal, step: Decimal, base: Decimal) -> Decimal:
    """The smallest ``base + n * step`` (integer ``n``) not below ``value``."""
    units = ((value - base) / step).to_integral_value(rounding=ROUND_CEILING)
    return base + units * step


def _on_grid(value: Decimal, step: Decimal, base: Decimal) -> bool:
    return (value - base) % step == 0


class SymbolRules(msgspec.Struct, frozen=True, kw_only=True):
    """The trading rules of one symbol as the venue states them (Binance USD-M filters).

    * ``PRICE_FILTER``: ``min_price <= price <= max_price``, ``(price - min_price)`` a
      multiple of ``tick_size`` (each part off when 0);
    * ``LOT_SIZE`` (limit orders) / ``MARKET_LOT_SIZE`` (market orders): quantity within
      ``[min_qty, max_qty]`` and ``(quantity - min_qty)`` a multiple of the step;
    * ``MIN_NOTIONAL``: ``price * quantity >= min_notional`` (market orders: the mark price),
      reduce-only orders (and hedge-mode closes) exempt;
    * ``PERCENT_PRICE``: a limit BUY at most ``mark * multiplier_up``, a SELL at least
      ``mark * multiplier_down``; a MARKET order's counterparty best price (the best ask for a
      BUY, the best bid for a SELL) within the same band (Binance -4131);
    * ``MAX_NUM_ORDERS``: open orders of the account on the symbol, at most this many;
    * ``LEVERAGE_BRACKET`` (not an ``exchangeInfo`` filter: the leverage brackets and the
      account's ``leverage`` on the symbol): a position growing beyond the notional cap of the
      last bracket allowing that leverage is refused (Binance -2027); off while ``leverage``
      is 0 (unknown) or no brackets are known.
    """

    symbol: str
    status: str = "TRADING"
    tick_size: Decimal
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step_size: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal = ZERO
    multiplier_up: Decimal = ZERO
    multiplier_down: Decimal = ZERO
    max_num_orders: int = 0
    brackets: tuple[LeverageBracket, ...] = ()
    leverage: int = 0
    """The account's leverage on the symbol (0: not known)."""

    # ----------------------------------------------------------------------- rounding

    def round_price(self, price: Decimal, side: OrderSide) -> Decimal:
        """``price`` on the tick grid, toward the passive side: down for a BUY, up for a
        SELL (a limit order never becomes more aggressive than asked)."""
        if self.tick_size <= 0:
            return price
        if side == "BUY":
            return _floor_to(price, self.tick_size, self.min_price)
        return _ceil_to(price, self.tick_size, self.min_price)

    def round_quantity(self, quantity: Decimal, *, market: bool = False) -> Decimal:
        """``quantity`` down to the step of ``LOT_SIZE`` (``market``: ``MARKET_LOT_SIZE``)."""
        step = self.market_step_size if market else self.step_size
        if step <= 0:
            return quantity
        base = self.market_min_qty if market else self.min_qty
        if quantity < base:
            base = ZERO
        return max(ZERO, _floor_to(quantity, step, base))

    def rounded(self, request: OrderRequest) -> OrderRequest:
        """``request`` with its price rounded to the tick (passive side) and its quantity
        down to the step; what still breaks a filter is left for ``check`` to name."""
        market = request.type == "MARKET"
        quantity = self.round_quantity(request.quantity, market=market)
        price = request.price
        if price is not None and request.type == "LIMIT":
            price = self.round_price(price, request.side)
        if quantity == request.quantity and price == request.price:
            return request
        return msgspec.structs.replace(request, quantity=quantity, price=price)

    # -------------------------------------------------------------------------- checks

    def check(
        self,
        request: OrderRequest,
        *,
        mark: Decimal | None = None,
        mark_margin: Decimal = ZERO,
        open_orders: int = 0,
        best: Decimal | None = None,
        position: Decimal = ZERO,
        same_side: Decimal = ZERO,
    ) -> tuple[FilterBreach, ...]:
        """Every filter ``request`` breaks (empty: it passes).

        ``mark``: the mark price as known (for example the last tick's mid), ``None`` if
        unknown; ``mark_margin``: how far (a fraction) the exchange's mark may be from it, so
        ``PERCENT_PRICE``, a market order's ``MIN_NOTIONAL`` and ``LEVERAGE_BRACKET`` are
        checked that much inside their bounds. ``open_orders``: the account's open (and
        in-flight) orders on the symbol. ``best``: a MARKET order's counterparty best price as
        known (the best ask for a BUY, the best bid for a SELL; ``None``: not checked).
        ``position``: the signed position on the symbol; ``same_side``: the quantity of the
        open, in-flight and not yet reported orders on the request's side (not reduce-only)
        that would grow it too.
        """
        out: list[FilterBreach] = []
        if request.symbol != self.symbol:
            raise ValueError(f"rules of {self.symbol} cannot check an order on {request.symbol}")
        if self.status != "TRADING":
            out.append(FilterBreach(filter="SYMBOL_STATUS", message=f"status is {self.status}"))
        market = request.type == "MARKET"
        out.extend(self._lot_breaches(request.quantity, market=market))
        price = request.price
        if not market:
            out.extend(self._price_breaches(price))
            if price is not None and price > 0:
                out.extend(self._percent_breaches(request.side, price, mark, mark_margin))
        elif best is not None and mark is not None:
            out.extend(self._best_price_breaches(request.side, best, mark, mark_margin))
        out.extend(self._notional_breaches(request, mark, mark_margin))
        if not request.reduces:
            out.extend(self._position_breaches(request, mark, mark_margin, position, same_side))
        if self.max_num_orders > 0 and open_orders >= self.max_num_orders:
            out.append(
                FilterBreach(
                    filter="MAX_NUM_ORDERS",
                    message=f"{open_orders} orders open on {self.symbol}, the limit is "
                    f"{self.max_num_orders}",
                )
            )
        return tuple(out)

    def _lot_breaches(self, quantity: Decimal, *, market: bool) -> list[FilterBreach]:
        name: FilterName = "MARKET_LOT_SIZE" if market else "LOT_SIZE"
        low = self.market_min_qty if market else self.min_qty
        high = self.market_max_qty if market else self.max_qty
        step = self.market_step_size if market else self.step_size
        out: list[FilterBreach] = []
        if quantity <= 0:
            return [FilterBreach(filter=name, message=f"quantity {quantity} is not above 0")]
        if quantity < low:
            out.append(FilterBreach(filter=name, message=f"quantity {quantity} < minQty {low}"))
        if high > 0 and quantity > high:
            out.append(FilterBreach(filter=name, message=f"quantity {quantity} > maxQty {high}"))
        if step > 0 and not _on_grid(quantity, step, low):
            out.append(
                FilterBreach(
                    filter=name, message=f"quantity {quantity} is not a step of {step} from {low}"
                )
            )
        return out

    def _price_breaches(self, price: Decimal | None) -> list[FilterBreach]:
        if price is None:
            return [FilterBreach(filter="PRICE_FILTER", message="a LIMIT order needs a price")]
        if price <= 0:
            return [FilterBreach(filter="PRICE_FILTER", message=f"price {price} is not above 0")]
        out: list[FilterBreach] = []
        if self.min_price > 0 and price < self.min_price:
            out.append(
                FilterBreach(
                    filter="PRICE_FILTER", message=f"price {price} < minPrice {self.min_price}"
                )
            )
        if self.max_price > 0 and price > self.max_price:
            out.append(
                FilterBreach(
                    filter="PRICE_FILTER", message=f"price {price} > maxPrice {self.max_price}"
                )
            )
        if self.tick_size > 0 and not _on_grid(price, self.tick_size, self.min_price):
            out.append(
                FilterBreach(
                    filter="PRICE_FILTER",
                    message=f"price {price} is not a tick of {self.tick_size}",
                )
            )
        return out

    def _percent_breaches(
        self, side: OrderSide, price: Decimal, mark: Decimal | None, margin: Decimal
    ) -> list[FilterBreach]:
        if self.multiplier_up <= 0 and self.multiplier_down <= 0:
            return []
        if mark is None:
            return [
                FilterBreach(
                    filter="PERCENT_PRICE",
                    message=f"no mark price known for {self.symbol} yet to check the price band",
                )
            ]
        return self._band_breaches(side, price, mark, margin, ("BUY price", "SELL price"))

    def _best_price_breaches(
        self, side: OrderSide, best: Decimal, mark: Decimal, margin: Decimal
    ) -> list[FilterBreach]:
        return self._band_breaches(
            side, best, mark, margin, ("MARKET BUY: best ask", "MARKET SELL: best bid")
        )

    def _band_breaches(
        self,
        side: OrderSide,
        price: Decimal,
        mark: Decimal,
        margin: Decimal,
        labels: tuple[str, str],
    ) -> list[FilterBreach]:
        """PERCENT_PRICE for ``price`` against the band around ``mark``, kept ``margin``
        inside it; ``labels`` name the price in the message (BUY, SELL)."""
        if side == "BUY" and self.multiplier_up > 0:
            cap = mark * (1 - margin) * self.multiplier_up
            if price > cap:
                return [
                    FilterBreach(
                        filter="PERCENT_PRICE",
                        message=f"{labels[0]} {price} > {cap:.8f} (mark {mark} x multiplierUp "
                        f"{self.multiplier_up}, {margin} margin)",
                    )
                ]
        if side == "SELL" and self.multiplier_down > 0:
            floor = mark * (1 + margin) * self.multiplier_down
            if price < floor:
                return [
                    FilterBreach(
                        filter="PERCENT_PRICE",
                        message=f"{labels[1]} {price} < {floor:.8f} (mark {mark} x "
                        f"multiplierDown {self.multiplier_down}, {margin} margin)",
                    )
                ]
        return []

    def _position_breaches(
        self,
        request: OrderRequest,
        mark: Decimal | None,
        margin: Decimal,
        position: Decimal,
        same_side: Decimal,
    ) -> list[FilterBreach]:
        cap = self.max_position_notional()
        if cap is None or request.quantity <= 0:
            return []
        sign = 1 if request.side == "BUY" else -1
        projected = position + sign * (request.quantity + same_side)
        if abs(projected) <= abs(position):
            return []
        if mark is None:
            return [
                FilterBreach(
                    filter="LEVERAGE_BRACKET",
                    message=f"no mark price known for {self.symbol} yet to value the position",
                )
            ]
        price = max(mark * (1 + margin), request.price or ZERO)
        notional = abs(projected) * price
        if notional > cap:
            return [
                FilterBreach(
                    filter="LEVERAGE_BRACKET",
                    message=f"position {projected:f} (now {position:f}, with the open orders of "
                    f"its side) x price {price:f} = {notional:f} > {cap}, the most the leverage "
                    f"brackets allow at {self.leverage}x",
                )
            ]
        return []

    def _notional_breaches(
        self, request: OrderRequest, mark: Decimal | None, margin: Decimal
    ) -> list[FilterBreach]:
        if self.min_notional <= 0 or request.reduces or request.quantity <= 0:
            return []
        if request.type == "MARKET":
            if mark is None:
                return [
                    FilterBreach(
                        filter="MIN_NOTIONAL",
                        message=f"no mark price known for {self.symbol} yet to value a MARKET "
                        "order",
                    )
                ]
            price = mark * (1 - margin)
        elif request.price is None or request.price <= 0:
            return []
        else:
            price = request.price
        notional = request.quantity * price
        if notional < self.min_notional:
            return [
                FilterBreach(
                    filter="MIN_NOTIONAL",
                    message=f"notional {notional:f} < {self.min_notional} (quantity "
                    f"{request.quantity} x price {price:f}; reduce-only orders are exempt)",
                )
            ]
        return []

    # ------------------------------------------------------------------------ brackets

    def bracket_for(self, notional: Decimal) -> LeverageBracket | None:
        """The leverage bracket a position of ``notional`` (absolute) falls in, or ``None``
        (no brackets known, or beyond the last cap)."""
        size = abs(notional)
        for bracket in self.brackets:
            if bracket.notional_floor <= size < bracket.notional_cap:
                return bracket
        return None

    def max_position_notional(self) -> Decimal | None:
        """The largest position notional allowed at ``leverage``: the cap of the last bracket
        whose initial leverage is at least it (``None``: leverage or brackets unknown; 0: the
        leverage is above every bracket's)."""
        if self.leverage <= 0 or not self.brackets:
            return None
        allowed = [b.notional_cap for b in self.brackets if b.initial_leverage >= self.leverage]
        return max(allowed) if allowed else ZERO

    def max_leverage(self, notional: Decimal) -> int | None:
        """The highest initial leverage allowed for a position of ``notional``, or ``None``."""
        bracket = self.bracket_for(notional)
        return bracket.initial_leverage if bracket is not None else None
