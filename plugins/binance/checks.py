"""Sanity checks of decoded exchange values: what the decode boundary refuses.

A message or REST entry holding one value that fails these checks is dropped whole (counted and
logged by ``counters``), so nothing insane reaches the account cache (docs/connector.md,
"Hostile values"):

* every amount is finite and within ``±AMOUNT_LIMIT`` (no ``NaN``, ``Infinity``, ``1E+999999``
  or 5,000-digit integers); quantities and prices are not negative;
* a symbol or asset name is 1-32 printable characters without spaces (non-ASCII names exist on
  Binance, control and bidi characters such as U+202E and NUL do not);
* a client order id is 1-64 characters from Binance's id alphabet and ``_-.:/``;
* an event or update time is not later than the exchange clock plus ``max_event_ahead``.

The checks are cheap on purpose (``is_finite()`` and ``adjusted()`` per amount, a set lookup
per name): they run on the hot path, where the value is made. Each function returns ``None``
when the value is sane, else a short text saying what was wrong (for the log, never a secret).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Final

from framework.types import Tick

from .decode import (
    AccountUpdate,
    OrderTradeUpdate,
    RestBalance,
    RestKline,
    RestOrder,
    RestPosition,
    RestTrade,
)

AMOUNT_LIMIT: Final = Decimal("1e18")
"""No amount, price or quantity on Binance comes near 10^18 (the largest are balances and
quantities of meme coins, around 10^12)."""
HI: Final = AMOUNT_LIMIT
LO: Final = -AMOUNT_LIMIT
EXP_LIMIT: Final = 18
"""A finite ``x`` is within ``±AMOUNT_LIMIT`` exactly when ``x.adjusted() < EXP_LIMIT``."""
MAX_NAME: Final = 32
MAX_CLIENT_ID: Final = 64
MAX_DIGITS: Final = 40
_CLIENT_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,64}")
_KNOWN_NAMES_MAX: Final = 50_000


def show(value: object) -> str:
    """A value as it may appear in a log line: ``repr``, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}...({len(text)} chars)"


def amount_problem(value: Decimal, *, signed: bool = True) -> str | None:
    """``None`` if ``value`` is a finite amount within ``±AMOUNT_LIMIT`` (``>= 0`` unless
    ``signed``), else what is wrong with it."""
    try:
        if LO < value < HI and (signed or value >= 0):
            return None
    except ArithmeticError:  # NaN and sNaN cannot be ordered
        return f"{show(value)} is not a number"
    if not value.is_finite():
        return f"{show(value)} is not finite"
    if value < 0 and not signed:
        return f"{show(value)} is negative"
    return f"{show(value)} is out of range (±1e18)"


def digits_problem(value: Decimal) -> str | None:
    """``None`` unless ``value`` has more than ``MAX_DIGITS`` significant digits.

    Not on the hot path: called only when a message is longer than its entries justify."""
    if value.is_finite() and len(value.as_tuple().digits) > MAX_DIGITS:
        return f"{show(value)} has more than {MAX_DIGITS} digits"
    return None


class Names:
    """Symbol and asset names seen to be well formed: a repeated name costs one set lookup."""

    __slots__ = ("known",)

    def __init__(self) -> None:
        self.known: set[str] = set()

    def problem(self, name: str) -> str | None:
        """``None`` if ``name`` is a well-formed symbol or asset name, else what is wrong."""
        if name in self.known:
            return None
        if not 0 < len(name) <= MAX_NAME:
            return f"name {show(name)} is empty or longer than {MAX_NAME} characters"
        if not name.isprintable() or " " in name:
            return f"name {show(name)} holds control, bidi or space characters"
        if len(self.known) < _KNOWN_NAMES_MAX:
            self.known.add(name)
        return None


def client_id_problem(cid: str) -> str | None:
    """``None`` if ``cid`` is a well-formed client order id (may be empty), else what is wrong."""
    if not cid or _CLIENT_ID.fullmatch(cid) is not None:
        return None
    return f"client order id {show(cid)} is malformed"


class Horizon:
    """The latest event time accepted: the exchange clock plus ``ahead_ms``.

    ``limit`` is re-read from the clock only when an event is later than it, so the hot path
    pays one comparison (``t > horizon.limit``) per message. A time refused as ahead calls
    ``on_ahead`` (the connector re-measures the exchange clock then: if the local clock jumped
    back, the next events are judged by the corrected one).
    """

    __slots__ = ("_ahead_ms", "_now_ms", "_on_ahead", "limit")

    def __init__(
        self,
        now_ms: Callable[[], int],
        ahead_ms: int,
        on_ahead: Callable[[], None] | None = None,
    ) -> None:
        self._now_ms = now_ms
        self._ahead_ms = ahead_ms
        self._on_ahead = on_ahead
        self.limit = now_ms() + ahead_ms

    def problem(self, when: int) -> str | None:
        """``None`` if ``when`` (ms) is not after the exchange clock plus the allowance."""
        if 0 <= when <= self.limit:
            return None
        if when < 0:
            return f"time {when} is negative"
        now = self._now_ms()
        self.limit = now + self._ahead_ms
        if when <= self.limit:
            return None
        if self._on_ahead is not None:
            self._on_ahead()
        return f"time {when} is {(when - now) / 1000:.0f} s ahead of the exchange clock"


# ------------------------------------------------------------------------ whole messages

Amounts = tuple[tuple[str, Decimal | None, bool], ...]
"""(field, value, signed) of one entry; a ``None`` value is absent and not checked."""


def amounts_problem(where: str, amounts: Amounts, *, deep: bool = True) -> str | None:
    """The first amount of an entry that is not sane (``deep``: digit counts too), else None."""
    for field_name, value, signed in amounts:
        if value is None:
            continue
        problem = amount_problem(value, signed=signed)
        if problem is None and deep:
            problem = digits_problem(value)
        if problem is not None:
            return f"{where}.{field_name}: {problem}" if where else f"{field_name}: {problem}"
    return None


def account_update_problem(
    event: AccountUpdate, names: Names, horizon: Horizon, *, deep: bool = True
) -> str | None:
    """What is wrong with an ``ACCOUNT_UPDATE``, or ``None`` if every value is sane."""
    problem = horizon.problem(event.E)
    if problem is not None:
        return f"E: {problem}"
    for i, b in enumerate(event.a.B):
        where = f"a.B[{i}]"
        problem = names.problem(b.a)
        if problem is not None:
            return f"{where}.a: {problem}"
        problem = amounts_problem(where, (("wb", b.wb, True), ("cw", b.cw, True)), deep=deep)
        if problem is not None:
            return problem
    for i, p in enumerate(event.a.P):
        where = f"a.P[{i}]"
        problem = names.problem(p.s)
        if problem is not None:
            return f"{where}.s: {problem}"
        amounts: Amounts = (
            ("pa", p.pa, True),
            ("ep", p.ep, False),
            ("up", p.up, True),
            ("bep", p.bep, True),
        )
        problem = amounts_problem(where, amounts, deep=deep)
        if problem is not None:
            return problem
    return None


def order_update_problem(
    event: OrderTradeUpdate, names: Names, horizon: Horizon, *, deep: bool = True
) -> str | None:
    """What is wrong with an ``ORDER_TRADE_UPDATE``, or ``None`` if every value is sane
    (``deep``: digit counts too)."""
    o = event.o
    for field_name, when in (("E", event.E), ("T", event.T), ("o.T", o.T)):
        problem = horizon.problem(when)
        if problem is not None:
            return f"{field_name}: {problem}"
    problem = names.problem(o.s) or (names.problem(o.N) if o.N else None)
    if problem is not None:
        return f"o.s/o.N: {problem}"
    problem = client_id_problem(o.c) or id_problem(o.i) or id_problem(o.t)
    if problem is not None:
        return f"o: {problem}"
    amounts: Amounts = (
        ("q", o.q, False),
        ("p", o.p, False),
        ("z", o.z, False),
        ("ap", o.ap, False),
        ("l", o.l, False),
        ("L", o.L, False),
        ("n", o.n, True),
        ("rp", o.rp, True),
    )
    return amounts_problem("o", amounts, deep=deep) or _words_problem(
        "o", (("o", o.o), ("x", o.x), ("X", o.X), ("f", o.f))
    )


def tick_problem(t: Tick, names: Names, horizon: Horizon) -> str | None:
    """What is wrong with a bookTicker's tick, or ``None`` if every value is sane."""
    problem = names.problem(t.symbol) or horizon.problem(t.event_time) or id_problem(t.update_id)
    if problem is not None:
        return problem
    amounts: Amounts = (
        ("b", t.bid, False),
        ("B", t.bid_qty, False),
        ("a", t.ask, False),
        ("A", t.ask_qty, False),
    )
    return amounts_problem("", amounts)


def id_problem(value: int) -> str | None:
    """``None`` if ``value`` is an id Binance could send (``0 <= value < 2**63``)."""
    if 0 <= value < 2**63:
        return None
    return f"id {show(value)} is out of range"


def _words_problem(where: str, words: tuple[tuple[str, str], ...]) -> str | None:
    for field_name, word in words:
        if not 0 < len(word) <= MAX_NAME or not word.isascii() or not word.isprintable():
            name = f"{where}.{field_name}" if where else field_name
            return f"{name}: {show(word)} is not a status or type"
    return None


# -------------------------------------------------------------------------- REST entries


def rest_order_problem(o: RestOrder, names: Names, horizon: Horizon) -> str | None:
    """What is wrong with an order of a REST answer, or ``None``."""
    problem = (
        names.problem(o.symbol)
        or client_id_problem(o.client_order_id)
        or id_problem(o.order_id)
        or horizon.problem(o.update_time)
        or horizon.problem(o.time)
    )
    if problem is not None:
        return problem
    amounts: Amounts = (
        ("price", o.price, False),
        ("origQty", o.orig_qty, False),
        ("executedQty", o.executed_qty, False),
        ("avgPrice", o.avg_price, False),
    )
    return amounts_problem("", amounts) or _words_problem(
        "", (("type", o.type), ("status", o.status), ("timeInForce", o.time_in_force))
    )


def rest_balance_problem(b: RestBalance, names: Names, horizon: Horizon) -> str | None:
    """What is wrong with a ``/fapi/v3/balance`` row, or ``None``."""
    problem = names.problem(b.asset) or horizon.problem(b.update_time)
    if problem is not None:
        return problem
    amounts: Amounts = (
        ("balance", b.balance, True),
        ("crossWalletBalance", b.cross_wallet_balance, True),
        ("availableBalance", b.available_balance, True),
    )
    return amounts_problem("", amounts)


def rest_position_problem(p: RestPosition, names: Names, horizon: Horizon) -> str | None:
    """What is wrong with a ``/fapi/v3/positionRisk`` row, or ``None``."""
    problem = names.problem(p.symbol) or horizon.problem(p.updateTime)
    if problem is not None:
        return problem
    amounts: Amounts = (
        ("positionAmt", p.positionAmt, True),
        ("entryPrice", p.entryPrice, False),
        ("unRealizedProfit", p.unrealized_profit, True),
        ("breakEvenPrice", p.breakEvenPrice, True),
    )
    return amounts_problem("", amounts)


def rest_trade_problem(t: RestTrade, names: Names, horizon: Horizon) -> str | None:
    """What is wrong with a ``/fapi/v1/userTrades`` row, or ``None``."""
    problem = (
        names.problem(t.symbol)
        or names.problem(t.commission_asset)
        or id_problem(t.id)
        or id_problem(t.order_id)
        or horizon.problem(t.time)
    )
    if problem is not None:
        return problem
    amounts: Amounts = (
        ("price", t.price, False),
        ("qty", t.qty, False),
        ("commission", t.commission, True),
        ("realizedPnl", t.realized_pnl, True),
    )
    return amounts_problem("", amounts)


def rest_kline_problem(k: RestKline, names: Names, horizon: Horizon) -> str | None:
    """What is wrong with a ``/fapi/v1/klines`` row, or ``None``: sane amounts, ``low`` at or
    below open and close at or below ``high``, a close time after the open time, not ahead."""
    problem = horizon.problem(k.open_time)
    if problem is not None:
        return f"openTime: {problem}"
    if not 0 <= k.trades < 2**63:
        return f"trades: {show(k.trades)} is out of range"
    amounts: Amounts = (
        ("open", k.open, False),
        ("high", k.high, False),
        ("low", k.low, False),
        ("close", k.close, False),
        ("volume", k.volume, False),
        ("quoteVolume", k.quote_volume, False),
    )
    problem = amounts_problem("", amounts)
    if problem is not None:
        return problem
    if not k.low <= min(k.open, k.close) <= max(k.open, k.close) <= k.high:
        return f"prices out of order: low {k.low} open {k.open} close {k.close} high {k.high}"
    if k.close_time <= k.open_time:
        return f"closeTime {k.close_time} is not after openTime {k.open_time}"
    return None
