"""Wire messages decoded with msgspec typed Structs, and their conversion to ``framework.types``.

Numbers Binance sends as strings are decoded by msgspec straight to ``Decimal`` (never float),
and only the fields the framework types carry are decoded at all. Unknown keys are ignored,
unknown event types are told apart from malformed messages, and nothing here raises past
``decode_*``. Whether the decoded values are sane is ``checks``' job.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any, Final, Literal

import msgspec

from framework.types import Balance, Candle, Fill, Order, Position, Tick

ZERO: Final = Decimal(0)
FILL_EXECUTIONS: Final = frozenset({"TRADE", "CALCULATED"})


class Kind(Enum):
    """How a message was classified."""

    EVENT = "event"
    IGNORED = "ignored"
    UNKNOWN = "unknown"
    MALFORMED = "malformed"
    CONTROL = "control"


# ------------------------------------------------------------------------- user-data events


class WireBalance(msgspec.Struct, frozen=True, gc=False):
    """``ACCOUNT_UPDATE.a.B[]``. ``bc`` (a delta, not a state) is not decoded."""

    a: str
    wb: Decimal
    cw: Decimal


class WirePosition(msgspec.Struct, frozen=True, gc=False):
    """``ACCOUNT_UPDATE.a.P[]``. ``cr``, ``mt`` and ``iw`` are not decoded (nothing uses them)."""

    s: str
    pa: Decimal
    ep: Decimal
    up: Decimal
    ps: Literal["BOTH", "LONG", "SHORT"] = "BOTH"
    bep: Decimal | None = None


class WireAccount(msgspec.Struct, frozen=True, gc=False):
    """``ACCOUNT_UPDATE.a``."""

    m: str = ""
    B: list[WireBalance] = []
    P: list[WirePosition] = []


class AccountUpdate(msgspec.Struct, frozen=True, tag="ACCOUNT_UPDATE", tag_field="e", gc=False):
    """Balances and positions that changed (absolute values), with event time ``E``.

    Hot path: the money fields are decoded straight to ``Decimal`` by msgspec (in C, ~0.13 µs a
    field), only the fields ``framework.types`` carries are decoded at all, and the structs are
    not tracked by the GC (they hold no containers that could form a cycle).
    """

    E: int
    a: WireAccount
    T: int = 0


class WireOrder(msgspec.Struct, frozen=True):
    """``ORDER_TRADE_UPDATE.o``."""

    s: str
    c: str
    S: Literal["BUY", "SELL"]
    o: str
    q: Decimal
    p: Decimal
    x: str
    X: str
    i: int
    f: str = "GTC"
    ap: Decimal = ZERO
    l: Decimal = ZERO  # noqa: E741 - Binance's field name
    z: Decimal = ZERO
    L: Decimal = ZERO
    N: str | None = None
    n: Decimal = ZERO
    T: int = 0
    t: int = 0
    m: bool = False
    R: bool = False
    ps: Literal["BOTH", "LONG", "SHORT"] = "BOTH"
    rp: Decimal = ZERO


class OrderTradeUpdate(msgspec.Struct, frozen=True, tag="ORDER_TRADE_UPDATE", tag_field="e"):
    """An order changed; ``o.x == "TRADE"`` means it also carries one fill."""

    E: int
    o: WireOrder
    T: int = 0


class ListenKeyExpired(msgspec.Struct, frozen=True, tag="listenKeyExpired", tag_field="e"):
    """The listenKey in use expired: no more events until a new key is used."""

    E: int = 0
    listenKey: str = ""


class TradeLite(msgspec.Struct, frozen=True, tag="TRADE_LITE", tag_field="e"):
    """Low-latency fill notice; the same fill arrives in ORDER_TRADE_UPDATE, which is used."""


class MarginCall(msgspec.Struct, frozen=True, tag="MARGIN_CALL", tag_field="e"):
    """Risk guidance only; positions and balances arrive in ACCOUNT_UPDATE."""


class AccountConfigUpdate(msgspec.Struct, frozen=True, tag="ACCOUNT_CONFIG_UPDATE", tag_field="e"):
    """Leverage or multi-assets mode changed; not part of the account cache."""


class AlgoUpdate(msgspec.Struct, frozen=True, tag="ALGO_UPDATE", tag_field="e"):
    """Conditional (algo) order update; triggered orders arrive as ORDER_TRADE_UPDATE."""


class ConditionalReject(
    msgspec.Struct, frozen=True, tag="CONDITIONAL_ORDER_TRIGGER_REJECT", tag_field="e"
):
    """Deprecated 2025-12-15; rejections now come inside ALGO_UPDATE."""


UserEvent = (
    AccountUpdate
    | OrderTradeUpdate
    | ListenKeyExpired
    | TradeLite
    | MarginCall
    | AccountConfigUpdate
    | AlgoUpdate
    | ConditionalReject
)
IGNORED_USER_EVENTS: Final = (
    TradeLite,
    MarginCall,
    AccountConfigUpdate,
    AlgoUpdate,
    ConditionalReject,
)


class _Head(msgspec.Struct):
    """Just enough of any message to classify it after a typed decode failed."""

    e: Any = None
    stream: Any = None
    id: Any = None
    result: Any = None
    data: msgspec.Raw = msgspec.Raw()
    event: msgspec.Raw = msgspec.Raw()


_user_decoder = msgspec.json.Decoder(UserEvent)
_head_decoder = msgspec.json.Decoder(_Head)


def _user_failure(raw: bytes | str, depth: int) -> tuple[Kind, UserEvent | None]:
    try:
        head = _head_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return Kind.MALFORMED, None
    inner = head.data if len(head.data) else head.event
    if len(inner) and depth == 0:
        # combined-stream ({"stream", "data"}) or WebSocket-API ({"subscriptionId", "event"})
        return _decode_user(bytes(inner), depth + 1)
    if head.e == "ACCOUNT_UPDATE":
        lenient = _lenient_account_update(raw)
        if lenient is not None:
            return Kind.EVENT, lenient
    return _classify_head(head), None


class _LenientPosition(msgspec.Struct, gc=False):
    s: str
    pa: Decimal
    ep: Decimal
    up: Decimal
    ps: Literal["BOTH", "LONG", "SHORT"] = "BOTH"
    bep: str = ""


class _LenientAccount(msgspec.Struct, gc=False):
    m: str = ""
    B: list[WireBalance] = []
    P: list[_LenientPosition] = []


class _LenientAccountUpdate(msgspec.Struct, gc=False):
    E: int
    a: _LenientAccount
    T: int = 0


_lenient_account_decoder = msgspec.json.Decoder(_LenientAccountUpdate)


def _lenient_account_update(raw: bytes | str) -> AccountUpdate | None:
    """An ACCOUNT_UPDATE whose ``bep`` is not a number (e.g. ``""``): ``bep`` becomes ``None``.

    The typed decoder reads ``bep`` as ``Decimal | None``; this slow path keeps such a message
    (and every other field) instead of counting it as malformed.
    """
    try:
        event = _lenient_account_decoder.decode(raw)
        positions = [
            WirePosition(
                s=p.s,
                pa=p.pa,
                ep=p.ep,
                up=p.up,
                ps=p.ps,
                bep=Decimal(p.bep) if p.bep.strip() else None,
            )
            for p in event.a.P
        ]
    except (msgspec.ValidationError, msgspec.DecodeError, ArithmeticError):
        return None
    return AccountUpdate(E=event.E, a=WireAccount(m=event.a.m, B=event.a.B, P=positions), T=event.T)


def _classify_head(head: _Head) -> Kind:
    if isinstance(head.e, str) and head.e not in KNOWN_USER_EVENT_TYPES:
        return Kind.UNKNOWN
    if head.e is None and head.id is not None:
        return Kind.CONTROL
    return Kind.MALFORMED


KNOWN_USER_EVENT_TYPES: Final = frozenset(
    t.__struct_config__.tag
    for t in (AccountUpdate, OrderTradeUpdate, ListenKeyExpired, *IGNORED_USER_EVENTS)
)


def decode_user_event(raw: bytes | str) -> tuple[Kind, UserEvent | None]:
    """Decode one user-data message: ``(EVENT, event)``, ``(IGNORED, event)`` or ``(kind, None)``.

    Bare events, combined-stream envelopes and WebSocket-API envelopes (spot's user data, the
    seam for the spot connector) are all accepted.
    """
    return _decode_user(raw, 0)


#: The typed decoder of bare user-data events; raises on anything else (hot path: call it, and
#: on ``msgspec.ValidationError``/``DecodeError`` hand the message to ``decode_user_fallback``).
decode_bare_user_event: Final = _user_decoder.decode


def decode_user_fallback(raw: bytes | str) -> tuple[Kind, UserEvent | None]:
    """``decode_user_event`` for a message ``decode_bare_user_event`` rejected: envelopes,
    lenient ACCOUNT_UPDATEs, or the classification of what could not be decoded."""
    return _user_failure(raw, 0)


def _decode_user(raw: bytes | str, depth: int) -> tuple[Kind, UserEvent | None]:
    try:
        event = _user_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _user_failure(raw, depth)
    if isinstance(event, IGNORED_USER_EVENTS):
        return Kind.IGNORED, event
    return Kind.EVENT, event


def balances_of(event: AccountUpdate) -> list[Balance]:
    """The balances of an ACCOUNT_UPDATE as framework ``Balance`` objects."""
    when = event.E
    return [
        Balance(asset=b.a, wallet_balance=b.wb, cross_wallet_balance=b.cw, event_time=when)
        for b in event.a.B
    ]


def positions_of(event: AccountUpdate) -> list[Position]:
    """The positions of an ACCOUNT_UPDATE as framework ``Position`` objects."""
    when = event.E
    return [
        Position(
            symbol=p.s,
            side=p.ps,
            amount=p.pa,
            entry_price=p.ep,
            unrealized_pnl=p.up,
            event_time=when,
            break_even_price=p.bep,
        )
        for p in event.a.P
    ]


def order_of(event: OrderTradeUpdate) -> Order:
    """The order an ORDER_TRADE_UPDATE reports."""
    o = event.o
    return Order(
        symbol=o.s,
        order_id=o.i,
        client_order_id=o.c,
        side=o.S,
        type=o.o,
        status=o.X,
        price=o.p,
        orig_qty=o.q,
        executed_qty=o.z,
        event_time=event.E,
        time_in_force=o.f,
        avg_price=o.ap,
        reduce_only=o.R,
        position_side=o.ps,
    )


def fill_of(event: OrderTradeUpdate) -> Fill | None:
    """The fill an ORDER_TRADE_UPDATE carries, else ``None``.

    ``x == "TRADE"`` is a normal fill; ``x == "CALCULATED"`` is a liquidation's execution, which
    moves the position just the same (PITFALLS 19).
    """
    o = event.o
    if o.x not in FILL_EXECUTIONS or not o.t:
        return None
    return Fill(
        symbol=o.s,
        order_id=o.i,
        trade_id=o.t,
        client_order_id=o.c,
        side=o.S,
        price=o.L,
        qty=o.l,
        fee=o.n,
        fee_asset=o.N or "",
        realized_pnl=o.rp,
        is_maker=o.m,
        event_time=event.E,
    )


# ----------------------------------------------------------------------------- market data


class WireBookTicker(msgspec.Struct, frozen=True, gc=False):
    """``<symbol>@bookTicker`` payload (no references to other objects: not tracked by the GC)."""

    s: str
    b: Decimal
    B: Decimal
    a: Decimal
    A: Decimal
    E: int = 0
    u: int = 0


class CombinedBookTicker(msgspec.Struct, frozen=True, gc=False):
    """Combined-stream envelope ``{"stream": .., "data": ..}`` around a bookTicker."""

    stream: str
    data: WireBookTicker


_book_decoder = msgspec.json.Decoder(CombinedBookTicker)
_raw_book_decoder = msgspec.json.Decoder(WireBookTicker)


def tick_of(w: WireBookTicker) -> Tick:
    """A framework ``Tick`` from a bookTicker payload."""
    return Tick(
        symbol=w.s, bid=w.b, bid_qty=w.B, ask=w.a, ask_qty=w.A, event_time=w.E, update_id=w.u
    )


def decode_market(raw: bytes | str) -> tuple[Kind, Tick | None]:
    """Decode one combined-stream message into a ``Tick`` (or classify it)."""
    try:
        msg = _book_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _classify_market_failure(raw), None
    if not msg.stream.endswith("@bookTicker"):
        return Kind.UNKNOWN, None
    return Kind.EVENT, tick_of(msg.data)


def decode_raw_book_ticker(raw: bytes | str) -> Tick:
    """Decode a bare (not combined) bookTicker payload; raises ``msgspec`` errors."""
    return tick_of(_raw_book_decoder.decode(raw))


def _classify_market_failure(raw: bytes | str) -> Kind:
    try:
        head = _head_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return Kind.MALFORMED
    if head.stream is not None and isinstance(head.stream, str):
        # a stream we did not ask for, or one whose payload is not a bookTicker
        return Kind.UNKNOWN if not head.stream.endswith("@bookTicker") else Kind.MALFORMED
    if head.id is not None or head.result is not None:
        return Kind.CONTROL
    if isinstance(head.e, str) and head.e != "bookTicker":
        return Kind.UNKNOWN
    return Kind.MALFORMED


def decode_market_fallback(raw: bytes | str) -> tuple[Kind, Tick | None]:
    """Like ``decode_market`` but also accepts a bare bookTicker payload (raw ``/ws`` streams)."""
    kind, tick = decode_market(raw)
    if kind is Kind.MALFORMED:
        try:
            return Kind.EVENT, decode_raw_book_ticker(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return Kind.MALFORMED, None
    return kind, tick


# -------------------------------------------------------------------------------- REST


class RestOrder(msgspec.Struct, frozen=True, rename="camel"):
    """An order in REST answers (new, cancel, query, openOrders)."""

    symbol: str
    order_id: int
    client_order_id: str
    side: Literal["BUY", "SELL"]
    type: str
    status: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    avg_price: Decimal = ZERO
    time_in_force: str = "GTC"
    reduce_only: bool = False
    position_side: Literal["BOTH", "LONG", "SHORT"] = "BOTH"
    update_time: int = 0
    time: int = 0

    def to_order(self, fallback_time: int = 0) -> Order:
        """The framework ``Order``; ``event_time`` is the order's update time."""
        return Order(
            symbol=self.symbol,
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            side=self.side,
            type=self.type,
            status=self.status,
            price=self.price,
            orig_qty=self.orig_qty,
            executed_qty=self.executed_qty,
            event_time=self.update_time or self.time or fallback_time,
            time_in_force=self.time_in_force,
            avg_price=self.avg_price,
            reduce_only=self.reduce_only,
            position_side=self.position_side,
        )


class RestBalance(msgspec.Struct, frozen=True, rename="camel"):
    """``GET /fapi/v3/balance`` row."""

    asset: str
    balance: Decimal
    cross_wallet_balance: Decimal
    available_balance: Decimal | None = None
    update_time: int = 0

    def to_balance(self, fallback_time: int) -> Balance:
        """The framework ``Balance``."""
        return Balance(
            asset=self.asset,
            wallet_balance=self.balance,
            cross_wallet_balance=self.cross_wallet_balance,
            event_time=self.update_time or fallback_time,
            available_balance=self.available_balance,
        )


class RestPosition(msgspec.Struct, frozen=True, rename={"unrealized_profit": "unRealizedProfit"}):
    """``GET /fapi/v3/positionRisk`` row."""

    symbol: str
    positionSide: Literal["BOTH", "LONG", "SHORT"]
    positionAmt: Decimal
    entryPrice: Decimal
    unrealized_profit: Decimal
    breakEvenPrice: Decimal | None = None
    updateTime: int = 0

    def to_position(self, fallback_time: int) -> Position:
        """The framework ``Position``."""
        return Position(
            symbol=self.symbol,
            side=self.positionSide,
            amount=self.positionAmt,
            entry_price=self.entryPrice,
            unrealized_pnl=self.unrealized_profit,
            event_time=self.updateTime or fallback_time,
            break_even_price=self.breakEvenPrice,
        )


class RestTrade(msgspec.Struct, frozen=True, rename="camel"):
    """``GET /fapi/v1/userTrades`` row (one trade of one order)."""

    symbol: str
    id: int
    order_id: int
    side: Literal["BUY", "SELL"]
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    maker: bool
    time: int

    def to_fill(self) -> Fill:
        """The framework ``Fill``; the trade list has no client order id, so it is empty."""
        return Fill(
            symbol=self.symbol,
            order_id=self.order_id,
            trade_id=self.id,
            client_order_id="",
            side=self.side,
            price=self.price,
            qty=self.qty,
            fee=self.commission,
            fee_asset=self.commission_asset,
            realized_pnl=self.realized_pnl,
            is_maker=self.maker,
            event_time=self.time,
        )


class ServerTime(msgspec.Struct, frozen=True):
    """``GET /fapi/v1/time``."""

    serverTime: int


class ListenKeyAnswer(msgspec.Struct, frozen=True):
    """``POST``/``PUT /fapi/v1/listenKey``."""

    listenKey: str = ""


class ErrorBody(msgspec.Struct, frozen=True):
    """``{"code": .., "msg": ..}``."""

    code: int
    msg: str = ""


def decode_error_body(raw: bytes) -> ErrorBody | None:
    """The error body of a failed answer, or ``None`` if it is not one."""
    try:
        return msgspec.json.decode(raw, type=ErrorBody)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


class RestKline(msgspec.Struct, frozen=True, array_like=True):
    """``GET /fapi/v1/klines`` row: ``[openTime, open, high, low, close, volume, closeTime,
    quoteVolume, trades, takerBuyBase, takerBuyQuote, ignore]`` (the trailing ones ignored)."""

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time: int
    quote_volume: Decimal
    trades: int

    def to_candle(self, symbol: str, interval: str, *, now_ms: int) -> Candle:
        """The framework ``Candle``; closed once its close time is before ``now_ms``."""
        return Candle(
            symbol=symbol,
            interval=interval,
            open_time=self.open_time,
            close_time=self.close_time,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            quote_volume=self.quote_volume,
            trades=self.trades,
            closed=self.close_time < now_ms,
        )
