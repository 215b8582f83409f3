"""Matching and accounting for one USD-M account, in one-way mode (a ``BOTH`` position per
symbol) or hedge mode (``dual``: a ``LONG`` and a ``SHORT`` position per symbol, each order
naming its position side): pure, no I/O, no clock.

Money is ``Decimal`` throughout and every amount that reaches the wallet (fees, realized PnL) is
rounded to 8 decimals first, so the rendered balances are exact and
``wallet change == sum(realized PnL) - sum(fees)`` holds to the last digit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from .brackets import max_notional
from .errors import BinanceError
from .filters import Refusals, check_order
from .symbols import SymbolSpec

Q8 = Decimal("0.00000001")
ZERO = Decimal(0)
DEPTH_LEVELS = 50
DEPTH_STEP_TICKS = 5
MARGIN_ASSET = "USDT"


class Side(StrEnum):
    """Order side."""

    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    """Order types the matching engine accepts (conditional types live in the algo service)."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"


class TimeInForce(StrEnum):
    """Time in force of a limit order (market orders carry GTC, as on Binance)."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"


class Status(StrEnum):
    """Order status."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


OPEN_STATUSES = frozenset({Status.NEW, Status.PARTIALLY_FILLED})


@dataclass(slots=True)
class Quote:
    """Top of the book for one symbol; ``mark`` is the mid price."""

    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal

    @property
    def mark(self) -> Decimal:
        """Mid price, used as mark price."""
        return (self.bid + self.ask) / 2


@dataclass(slots=True)
class Order:
    """An order and its fill state."""

    symbol: str
    order_id: int
    client_order_id: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    orig_qty: Decimal
    price: Decimal
    reduce_only: bool
    time: int
    update_time: int
    status: Status = Status.NEW
    position_side: str = "BOTH"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        """Quantity not filled yet."""
        return self.orig_qty - self.executed_qty

    @property
    def avg_price(self) -> Decimal:
        """Average fill price (0 before the first fill)."""
        if not self.executed_qty:
            return ZERO
        return self.cum_quote / self.executed_qty

    @property
    def is_open(self) -> bool:
        """True while the order rests on the book."""
        return self.status in OPEN_STATUSES

    @property
    def closes(self) -> bool:
        """True for a hedge-mode order that closes its position side (a SELL of the LONG, a
        BUY of the SHORT): it can only reduce, as a reduce-only order."""
        return (self.position_side == "LONG" and self.side is Side.SELL) or (
            self.position_side == "SHORT" and self.side is Side.BUY
        )

    @property
    def reduces(self) -> bool:
        """True when the order can only shrink a position (reduce-only, or a hedge close)."""
        return self.reduce_only or self.closes

    def snapshot(self) -> Order:
        """A copy frozen at this moment (for events and responses)."""
        return dataclasses.replace(self)


@dataclass(slots=True)
class Position:
    """One position of one symbol: ``BOTH`` in one-way mode, ``LONG`` (amount >= 0) or
    ``SHORT`` (amount <= 0) in hedge mode."""

    symbol: str
    leverage: int
    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized: Decimal = ZERO
    update_time: int = 0
    side: str = "BOTH"


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill of one order (a row of ``userTrades``)."""

    trade_id: int
    symbol: str
    order_id: int
    side: Side
    price: Decimal
    qty: Decimal
    commission: Decimal
    realized_pnl: Decimal
    maker: bool
    time: int
    position_side: str = "BOTH"


@dataclass(frozen=True, slots=True)
class Income:
    """A row of the income history."""

    tran_id: int
    symbol: str
    income_type: str
    income: Decimal
    asset: str
    time: int
    trade_id: str
    info: str = ""


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order changed (``ORDER_TRADE_UPDATE``)."""

    order: Order
    execution_type: str
    time: int
    last_qty: Decimal = ZERO
    last_price: Decimal = ZERO
    commission: Decimal = ZERO
    trade_id: int = 0
    maker: bool = False
    realized_pnl: Decimal = ZERO
    expiry_reason: str = "0"


@dataclass(frozen=True, slots=True)
class PositionView:
    """A position as reported in ``ACCOUNT_UPDATE``."""

    symbol: str
    amount: Decimal
    entry_price: Decimal
    break_even_price: Decimal
    realized: Decimal
    unrealized: Decimal
    side: str = "BOTH"


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """Balances or positions changed (``ACCOUNT_UPDATE``)."""

    reason: str
    time: int
    balances: tuple[tuple[str, Decimal, Decimal], ...]
    positions: tuple[PositionView, ...]


@dataclass(frozen=True, slots=True)
class LeverageEvent:
    """Leverage of a symbol changed (``ACCOUNT_CONFIG_UPDATE``)."""

    symbol: str
    leverage: int
    time: int


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A fill, in the short form of ``TRADE_LITE``."""

    order: Order
    trade: Trade


Event = OrderEvent | AccountEvent | LeverageEvent | TradeEvent


@dataclass(slots=True)
class PlaceResult:
    """What placing an order produced: the order as accepted, as it ended up, and the events."""

    accepted: Order
    final: Order
    events: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class _Book:
    """Liquidity already taken from the current quote, per side and depth level."""

    quote: Quote
    taken: dict[tuple[Side, int], Decimal] = field(default_factory=dict)


def _sign(side: Side) -> int:
    return 1 if side is Side.BUY else -1


class Engine:
    """The account, its orders and positions, and a synthetic order book fed with quotes."""

    def __init__(
        self,
        specs: dict[str, SymbolSpec],
        balances: dict[str, Decimal],
        *,
        leverage: int,
        maker_fee: Decimal,
        taker_fee: Decimal,
        quotes: dict[str, Quote],
        dual: bool = False,
    ) -> None:
        self.specs = specs
        self.dual = dual
        self.wallet: dict[str, Decimal] = {a: Decimal(v).quantize(Q8) for a, v in balances.items()}
        self.balance_update_time: dict[str, int] = dict.fromkeys(balances, 0)
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        # one-way positions (in hedge mode they stay flat and hold the symbol's leverage)
        self.positions = {s: Position(s, leverage) for s in specs}
        # hedge mode: (symbol, LONG/SHORT) -> position
        self.sides: dict[tuple[str, str], Position] = {
            (s, side): Position(s, leverage, side=side)
            for s in (specs if dual else ())
            for side in ("LONG", "SHORT")
        }
        self.orders: dict[tuple[str, int], Order] = {}
        self.open_orders: dict[str, dict[int, Order]] = {s: {} for s in specs}
        self.client_ids: dict[tuple[str, str], int] = {}
        self.trades: list[Trade] = []
        self.incomes: list[Income] = []
        self._books = {s: _Book(quotes[s]) for s in specs}
        self.refusals = Refusals()  # new orders refused, by error code
        self.next_order_id = 4_100_000_001
        self.next_trade_id = 5_200_000_001
        self.next_tran_id = 9_300_000_001

    # ----------------------------------------------------------------- queries

    def quote(self, symbol: str) -> Quote:
        """Current top of book."""
        return self._books[symbol].quote

    def mark_price(self, symbol: str) -> Decimal:
        """Current mark price."""
        return self._books[symbol].quote.mark

    def legs(self, symbol: str) -> list[Position]:
        """The symbol's positions: ``[BOTH]`` in one-way mode, ``[LONG, SHORT]`` in hedge mode."""
        if self.dual:
            return [self.sides[(symbol, "LONG")], self.sides[(symbol, "SHORT")]]
        return [self.positions[symbol]]

    def leg(self, symbol: str, position_side: str) -> Position:
        """One position of a symbol by its side (``BOTH``, ``LONG`` or ``SHORT``)."""
        if position_side == "BOTH":
            return self.positions[symbol]
        return self.sides[(symbol, position_side)]

    def leg_unrealized(self, pos: Position) -> Decimal:
        """Unrealized PnL of one position at the mark price."""
        if not pos.amount:
            return ZERO
        return (pos.amount * (self.mark_price(pos.symbol) - pos.entry_price)).quantize(Q8)

    def leg_break_even(self, pos: Position) -> Decimal:
        """Entry price moved by the taker fee of closing, as a rough break-even."""
        if not pos.amount:
            return ZERO
        factor = 1 + self.taker_fee if pos.amount > 0 else 1 - self.taker_fee
        return (pos.entry_price * factor).quantize(Q8)

    def leg_initial_margin(self, pos: Position) -> Decimal:
        """Initial margin held by one position at the mark price."""
        return (abs(pos.amount) * self.mark_price(pos.symbol) / pos.leverage).quantize(Q8)

    def leg_maint_margin(self, pos: Position) -> Decimal:
        """Maintenance margin of one position."""
        rate = self.specs[pos.symbol].maint_margin_rate
        return (abs(pos.amount) * self.mark_price(pos.symbol) * rate).quantize(Q8)

    def leg_notional(self, pos: Position) -> Decimal:
        """Signed notional of one position at the mark price."""
        return (pos.amount * self.mark_price(pos.symbol)).quantize(Q8)

    def unrealized(self, symbol: str) -> Decimal:
        """Unrealized PnL of the symbol's positions at the mark price."""
        return sum((self.leg_unrealized(p) for p in self.legs(symbol)), ZERO)

    def break_even_price(self, symbol: str) -> Decimal:
        """Entry price moved by the taker fee of closing, as a rough break-even (one-way)."""
        return self.leg_break_even(self.positions[symbol])

    def position_initial_margin(self, symbol: str) -> Decimal:
        """Initial margin held by the symbol's positions at the mark price."""
        return sum((self.leg_initial_margin(p) for p in self.legs(symbol)), ZERO)

    def maint_margin(self, symbol: str) -> Decimal:
        """Maintenance margin of the symbol's positions."""
        return sum((self.leg_maint_margin(p) for p in self.legs(symbol)), ZERO)

    def _reducible(self, symbol: str, side: Side, position_side: str = "BOTH") -> Decimal:
        """How much an order of ``side`` (on ``position_side``) can reduce a position."""
        amount = self.leg(symbol, position_side).amount
        if amount and (amount > 0) != (side is Side.BUY):
            return abs(amount)
        return ZERO

    def open_order_initial_margin(self, symbol: str, position_side: str | None = None) -> Decimal:
        """Initial margin held by open orders (the part of each side that would open exposure;
        hedge mode: the orders opening a position side, of ``position_side`` or all)."""
        total = ZERO
        leverage = self.positions[symbol].leverage
        if self.dual:
            for order in self.open_orders[symbol].values():
                if order.closes or position_side not in (None, order.position_side):
                    continue
                total += order.remaining * order.price / leverage
            return total.quantize(Q8)
        for side in Side:
            qty = ZERO
            notional = ZERO
            for order in self.open_orders[symbol].values():
                if order.side is side and not order.reduce_only:
                    qty += order.remaining
                    notional += order.remaining * order.price
            if qty:
                opening = max(ZERO, qty - self._reducible(symbol, side))
                total += opening * (notional / qty) / leverage
        return total.quantize(Q8)

    def notional(self, symbol: str) -> Decimal:
        """Signed notional of the symbol's positions at the mark price."""
        return sum((self.leg_notional(p) for p in self.legs(symbol)), ZERO)

    def side_notional(self, symbol: str, side: Side) -> Decimal:
        """Notional of the open orders of one side (``bidNotional``/``askNotional``)."""
        orders = self.open_orders[symbol].values()
        return sum((o.remaining * o.price for o in orders if o.side is side), ZERO).quantize(Q8)

    def total_unrealized(self) -> Decimal:
        """Unrealized PnL over all positions."""
        return sum((self.unrealized(s) for s in self.specs), ZERO)

    def total_initial_margin(self) -> Decimal:
        """Position plus open-order initial margin over all symbols."""
        return sum(
            (
                self.position_initial_margin(s) + self.open_order_initial_margin(s)
                for s in self.specs
            ),
            ZERO,
        )

    def available_balance(self) -> Decimal:
        """Margin balance minus initial margin, floored at zero (cross margin, USDT)."""
        margin_balance = self.wallet[MARGIN_ASSET] + self.total_unrealized()
        return max(ZERO, margin_balance - self.total_initial_margin())

    def max_withdraw(self) -> Decimal:
        """What could be withdrawn: available balance capped by the wallet balance."""
        return max(ZERO, min(self.available_balance(), self.wallet[MARGIN_ASSET]))

    def liquidation_price(self, symbol: str, position_side: str = "BOTH") -> Decimal:
        """Cross liquidation price when this is the only position (0 when there is none)."""
        pos = self.leg(symbol, position_side)
        if not pos.amount:
            return ZERO
        rate = self.specs[symbol].maint_margin_rate
        wallet = self.wallet[MARGIN_ASSET]
        denominator = pos.amount - abs(pos.amount) * rate
        if not denominator:
            return ZERO
        price = (pos.amount * pos.entry_price - wallet) / denominator
        return max(ZERO, price).quantize(Q8)

    def find_order(
        self, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> Order | None:
        """Look an order up by id or client order id."""
        if order_id is None and client_order_id is not None:
            order_id = self.client_ids.get((symbol, client_order_id))
        if order_id is None:
            return None
        order = self.orders.get((symbol, order_id))
        if order is not None and client_order_id is not None:
            if order.client_order_id != client_order_id:
                return None
        return order

    # ----------------------------------------------------------------- commands

    def set_leverage(self, symbol: str, leverage: int, now: int) -> LeverageEvent:
        """Change a symbol's leverage."""
        self.positions[symbol].leverage = leverage
        for side in ("LONG", "SHORT") if self.dual else ():
            self.sides[(symbol, side)].leverage = leverage
        return LeverageEvent(symbol, leverage, now)

    def place_order(
        self,
        *,
        symbol: str,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
        price: Decimal | None,
        time_in_force: TimeInForce,
        reduce_only: bool,
        client_order_id: str,
        now: int,
        position_side: str = "BOTH",
    ) -> PlaceResult:
        """Validate, accept and match a new order; a rejection raises ``BinanceError`` and is
        counted in ``refusals`` by its code."""
        try:
            return self._place(
                symbol=symbol,
                side=side,
                order_type=order_type,
                quantity=quantity,
                price=price,
                time_in_force=time_in_force,
                reduce_only=reduce_only,
                client_order_id=client_order_id,
                now=now,
                position_side=position_side,
            )
        except BinanceError as err:
            self.refusals.count(err.code)
            raise

    def _place(
        self,
        *,
        symbol: str,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
        price: Decimal | None,
        time_in_force: TimeInForce,
        reduce_only: bool,
        client_order_id: str,
        now: int,
        position_side: str = "BOTH",
    ) -> PlaceResult:
        spec = self.specs[symbol]
        if (position_side == "BOTH") == self.dual:
            raise BinanceError(400, -4061, "Order's position side does not match user's setting.")
        if self.dual and reduce_only:
            raise BinanceError(400, -1106, "Parameter 'reduceOnly' sent when not required.")
        closes = (position_side == "LONG" and side is Side.SELL) or (
            position_side == "SHORT" and side is Side.BUY
        )
        reduces = reduce_only or closes
        self._check_filters(spec, side, order_type, quantity, price, reduces)
        if client_order_id in {o.client_order_id for o in self.open_orders[symbol].values()}:
            raise BinanceError(400, -4116, "ClientOrderId is duplicated.")
        if len(self.open_orders[symbol]) >= spec.max_num_orders:
            raise BinanceError(400, -2025, "Reach max open order limit.")
        if reduces and not self._reducible(symbol, side, position_side):
            raise BinanceError(400, -2022, "ReduceOnly Order is rejected.")
        book = self._books[symbol]
        if order_type is OrderType.LIMIT:
            assert price is not None
            crosses = price >= book.quote.ask if side is Side.BUY else price <= book.quote.bid
            if time_in_force is TimeInForce.GTX and crosses:
                raise BinanceError(
                    400,
                    -5022,
                    "Due to the order could not be executed as maker, the Post Only order will "
                    "be rejected. The order will not be recorded in the order history",
                )
            if time_in_force is TimeInForce.FOK and self._fillable(symbol, side, price) < quantity:
                raise BinanceError(
                    400,
                    -5021,
                    "Due to the order could not be filled immediately, the FOK order has been "
                    "rejected. The order will not be recorded in the order history",
                )
        if not reduces:
            self._check_position_cap(symbol, side, quantity, price, position_side)
        ref_price = price if price is not None else self._taker_reference(symbol, side)
        opening = (
            max(ZERO, quantity - self._reducible(symbol, side, position_side))
            if not reduces
            else ZERO
        )
        required = opening * ref_price / self.positions[symbol].leverage
        if opening and required > self.available_balance():
            raise BinanceError(400, -2019, "Margin is insufficient.")

        order = Order(
            symbol=symbol,
            order_id=self.next_order_id,
            client_order_id=client_order_id,
            side=side,
            type=order_type,
            time_in_force=time_in_force if order_type is OrderType.LIMIT else TimeInForce.GTC,
            orig_qty=quantity,
            price=price if price is not None else ZERO,
            reduce_only=reduce_only,
            time=now,
            update_time=now,
            position_side=position_side,
        )
        self.next_order_id += 1
        self.orders[(symbol, order.order_id)] = order
        self.client_ids[(symbol, client_order_id)] = order.order_id
        result = PlaceResult(accepted=order.snapshot(), final=order)
        result.events.append(OrderEvent(order.snapshot(), "NEW", now))
        self._take(order, now, result.events)
        if order.is_open:
            immediate = order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
            if order.type is OrderType.MARKET or immediate:
                reason = "9" if order.type is OrderType.MARKET else "2"
                self._finish(order, Status.EXPIRED, now, result.events, reason)
            elif reduces and not self._reducible(symbol, side, position_side):
                self._finish(order, Status.EXPIRED, now, result.events, "4")
            else:
                self.open_orders[symbol][order.order_id] = order
        result.final = order.snapshot()
        return result

    def cancel_order(self, order: Order, now: int) -> list[Event]:
        """Cancel an open order; raise -2011 if it is no longer open."""
        if not order.is_open:
            raise BinanceError(400, -2011, "Unknown order sent.")
        events: list[Event] = []
        self._finish(order, Status.CANCELED, now, events)
        return events

    def cancel_all(self, symbol: str, now: int) -> list[Event]:
        """Cancel every open order of a symbol."""
        events: list[Event] = []
        for order in list(self.open_orders[symbol].values()):
            self._finish(order, Status.CANCELED, now, events)
        return events

    def on_quote(self, symbol: str, quote: Quote, now: int) -> list[Event]:
        """Take a new top of book and fill the resting orders it crosses (as maker)."""
        book = self._books[symbol]
        book.quote = quote
        book.taken.clear()
        resting = self.open_orders[symbol]
        if not resting:
            return []
        events: list[Event] = []
        buys = sorted(
            (o for o in resting.values() if o.side is Side.BUY and o.price >= quote.ask),
            key=lambda o: (-o.price, o.order_id),
        )
        sells = sorted(
            (o for o in resting.values() if o.side is Side.SELL and o.price <= quote.bid),
            key=lambda o: (o.price, o.order_id),
        )
        for order in buys + sells:
            if not order.is_open:
                continue
            key = (Side.SELL if order.side is Side.BUY else Side.BUY, 0)
            top = quote.ask_qty if order.side is Side.BUY else quote.bid_qty
            available = top - book.taken.get(key, ZERO)
            qty = min(order.remaining, available, self._fill_cap(order))
            if qty <= 0:
                continue
            book.taken[key] = book.taken.get(key, ZERO) + qty
            self._fill(order, qty, order.price, maker=True, now=now, events=events)
        return events

    # ----------------------------------------------------------------- internals

    def _check_filters(
        self,
        spec: SymbolSpec,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
        price: Decimal | None,
        reduce_only: bool,
    ) -> None:
        check_order(
            spec,
            side=side.value,
            market=order_type is OrderType.MARKET,
            quantity=quantity,
            price=price,
            reduce_only=reduce_only,
            mark=self.mark_price(spec.symbol),
            best=self._taker_reference(spec.symbol, side),
        )

    def _check_position_cap(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal | None,
        position_side: str = "BOTH",
    ) -> None:
        """-2027 when the position, with this order and the open orders of its side filled,
        would grow beyond what the leverage's bracket allows (valued at the mark, or at the
        order's price when that is higher)."""
        pos = self.leg(symbol, position_side)
        sign = _sign(side)
        same_side = sum(
            (
                o.remaining
                for o in self.open_orders[symbol].values()
                if o.side is side and not o.reduces and o.position_side == position_side
            ),
            ZERO,
        )
        projected = pos.amount + sign * (quantity + same_side)
        if abs(projected) <= abs(pos.amount):
            return
        value = max(self.mark_price(symbol), price or ZERO)
        if abs(projected) * value > max_notional(pos.leverage):
            raise BinanceError(
                400, -2027, "Exceeded the maximum allowable position at current leverage."
            )

    def depth(self, symbol: str, levels: int) -> tuple[list[tuple[Decimal, Decimal]], ...]:
        """``(bids, asks)``: up to ``levels`` price levels per side, best first, as the book is
        now (the liquidity market orders took from the current quote is gone)."""
        sides = []
        for taker in (Side.SELL, Side.BUY):  # a seller takes the bids, a buyer the asks
            rows: list[tuple[Decimal, Decimal]] = []
            for _, price, qty in self._levels(symbol, taker):
                if qty > 0:
                    rows.append((price, qty))
                    if len(rows) == levels:
                        break
            sides.append(rows)
        return tuple(sides)

    def _levels(self, symbol: str, side: Side) -> Iterator[tuple[int, Decimal, Decimal]]:
        """Yield (level, price, quantity left) of the side a taker of ``side`` trades against."""
        book = self._books[symbol]
        spec = self.specs[symbol]
        quote = book.quote
        against = Side.SELL if side is Side.BUY else Side.BUY
        base = quote.ask if side is Side.BUY else quote.bid
        step = spec.tick_size * DEPTH_STEP_TICKS * _sign(side)
        for level in range(DEPTH_LEVELS):
            price = base + step * level
            if price <= 0:
                return
            if level == 0:
                depth = quote.ask_qty if side is Side.BUY else quote.bid_qty
            else:
                depth = spec.top_qty * (level + 1)
            yield level, price, depth - book.taken.get((against, level), ZERO)

    def _taker_reference(self, symbol: str, side: Side) -> Decimal:
        quote = self._books[symbol].quote
        return quote.ask if side is Side.BUY else quote.bid

    def _fillable(self, symbol: str, side: Side, limit: Decimal) -> Decimal:
        total = ZERO
        for _, price, qty in self._levels(symbol, side):
            if (price > limit) if side is Side.BUY else (price < limit):
                break
            total += max(ZERO, qty)
        return total

    def _fill_cap(self, order: Order) -> Decimal:
        if order.reduces:
            return self._reducible(order.symbol, order.side, order.position_side)
        return order.remaining

    def _take(self, order: Order, now: int, events: list[Event]) -> None:
        """Match an incoming order against the synthetic book (taker fills)."""
        book = self._books[order.symbol]
        against = Side.SELL if order.side is Side.BUY else Side.BUY
        for level, price, available in self._levels(order.symbol, order.side):
            if order.type is OrderType.LIMIT:
                beyond = price > order.price if order.side is Side.BUY else price < order.price
                if beyond:
                    break
            qty = min(order.remaining, available, self._fill_cap(order))
            if qty > 0:
                book.taken[(against, level)] = book.taken.get((against, level), ZERO) + qty
                self._fill(order, qty, price, maker=False, now=now, events=events)
            if not order.remaining or not order.is_open or not self._fill_cap(order):
                break

    def _fill(
        self,
        order: Order,
        qty: Decimal,
        price: Decimal,
        *,
        maker: bool,
        now: int,
        events: list[Event],
    ) -> None:
        """Book one fill: position, entry price, realized PnL, fee, wallet, order state."""
        symbol = order.symbol
        pos = self.leg(symbol, order.position_side)
        signed = qty * _sign(order.side)
        realized = ZERO
        if not pos.amount or (pos.amount > 0) == (signed > 0):
            new_amount = pos.amount + signed
            cost = abs(pos.amount) * pos.entry_price + qty * price
            pos.entry_price = (cost / abs(new_amount)).quantize(Q8)
            pos.amount = new_amount
        else:
            closing = min(qty, abs(pos.amount))
            direction = 1 if pos.amount > 0 else -1
            realized = (closing * (price - pos.entry_price) * direction).quantize(Q8)
            new_amount = pos.amount + signed
            if not new_amount:
                pos.entry_price = ZERO
            elif (new_amount > 0) != (pos.amount > 0):
                pos.entry_price = price
            pos.amount = new_amount
        pos.realized += realized
        pos.update_time = now
        fee = (qty * price * (self.maker_fee if maker else self.taker_fee)).quantize(Q8)
        self.wallet[MARGIN_ASSET] += realized - fee
        self.balance_update_time[MARGIN_ASSET] = now

        order.executed_qty += qty
        order.cum_quote += qty * price
        order.update_time = now
        order.status = Status.FILLED if not order.remaining else Status.PARTIALLY_FILLED
        if order.status is Status.FILLED:
            self.open_orders[symbol].pop(order.order_id, None)

        trade = Trade(
            self.next_trade_id,
            symbol,
            order.order_id,
            order.side,
            price,
            qty,
            fee,
            realized,
            maker,
            now,
            order.position_side,
        )
        self.next_trade_id += 1
        self.trades.append(trade)
        if realized:
            self._income(symbol, "REALIZED_PNL", realized, now, str(trade.trade_id))
        if fee:
            self._income(symbol, "COMMISSION", -fee, now, str(trade.trade_id))

        wallet = self.wallet[MARGIN_ASSET]
        view = PositionView(
            symbol,
            pos.amount,
            pos.entry_price,
            self.leg_break_even(pos),
            pos.realized,
            self.leg_unrealized(pos),
            pos.side,
        )
        events.append(TradeEvent(order.snapshot(), trade))
        events.append(AccountEvent("ORDER", now, ((MARGIN_ASSET, wallet, wallet),), (view,)))
        events.append(
            OrderEvent(
                order.snapshot(), "TRADE", now, qty, price, fee, trade.trade_id, maker, realized
            )
        )
        self._expire_stale_reduce_only(symbol, now, events)

    def _expire_stale_reduce_only(self, symbol: str, now: int, events: list[Event]) -> None:
        for order in list(self.open_orders[symbol].values()):
            if order.reduces and not self._reducible(symbol, order.side, order.position_side):
                self._finish(order, Status.EXPIRED, now, events, "4")

    def _finish(
        self, order: Order, status: Status, now: int, events: list[Event], reason: str = "0"
    ) -> None:
        order.status = status
        order.update_time = now
        self.open_orders[order.symbol].pop(order.order_id, None)
        events.append(OrderEvent(order.snapshot(), status.value, now, expiry_reason=reason))

    def _income(self, symbol: str, kind: str, amount: Decimal, now: int, trade_id: str) -> None:
        self.incomes.append(
            Income(self.next_tran_id, symbol, kind, amount, MARGIN_ASSET, now, trade_id)
        )
        self.next_tran_id += 1
