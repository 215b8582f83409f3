"""Data types passed through hooks. Immutable, so a plugin cannot change what others see.

Money and quantities are ``Decimal`` (never float). Times are Unix epoch milliseconds as ``int``,
the unit Binance uses for event time ``E`` and transaction time ``T``. The value types (``Tick``,
``Balance``, ``Position``, ``Order``, ``Fill``) hold only scalars, so they are not tracked by the
cyclic GC (``gc=False``): the cache replaces them at stream rate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import msgspec

PositionSide = Literal["BOTH", "LONG", "SHORT"]
OrderSide = Literal["BUY", "SELL"]


class Tick(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Best bid/ask of one symbol (Binance ``bookTicker``)."""

    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    event_time: int
    update_id: int = 0

    @property
    def mid(self) -> Decimal:
        """Midpoint of bid and ask."""
        return (self.bid + self.ask) / 2


CANDLE_INTERVALS: tuple[str, ...] = (
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
)
"""Candle intervals (Binance's kline intervals: minutes, hours, days, a week, a month)."""


class Candle(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One candlestick of one symbol, from the exchange's trades (a Binance kline).

    ``open_time`` and ``close_time`` (inclusive) are ms; ``closed`` is false for the candle
    still forming when it was read (its close is the last price so far).
    """

    symbol: str
    interval: str
    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int
    closed: bool


class Balance(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One asset of the futures wallet."""

    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    event_time: int
    available_balance: Decimal | None = None


class Position(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One position, keyed by (symbol, side); ``side`` is ``BOTH`` in one-way mode."""

    symbol: str
    side: PositionSide
    amount: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal
    event_time: int
    break_even_price: Decimal | None = None


class Order(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An order as the exchange last reported it."""

    symbol: str
    order_id: int
    client_order_id: str
    side: OrderSide
    type: str
    status: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    event_time: int
    time_in_force: str = "GTC"
    avg_price: Decimal = Decimal(0)
    reduce_only: bool = False
    position_side: PositionSide = "BOTH"

    @property
    def is_open(self) -> bool:
        """True while the order can still trade."""
        return self.status in ("NEW", "PARTIALLY_FILLED")


# How far an order got, by status: open < partially filled < closed. An update may not move an
# order backwards at equal event time, in the cache and in reconciliation alike.
ORDER_STATUS_RANK: Mapping[str, int] = {
    "NEW": 0,
    "PARTIALLY_FILLED": 1,
    "FILLED": 2,
    "CANCELED": 2,
    "EXPIRED": 2,
    "EXPIRED_IN_MATCH": 2,
    "REJECTED": 2,
}
# A status not listed ranks as closed: ``Order.is_open`` is true only for NEW and
# PARTIALLY_FILLED, so the cache already files such an order as closed, and an order never
# reopens; ranking it lower would let an equal-time ``NEW`` bring it back.
UNKNOWN_STATUS_RANK = 2


def order_progress(order: Order) -> tuple[Decimal, int]:
    """How far an order got: its filled quantity, then its status rank."""
    return (order.executed_qty, ORDER_STATUS_RANK.get(order.status, UNKNOWN_STATUS_RANK))


class Fill(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One trade of an order; unique by (symbol, order_id, trade_id)."""

    symbol: str
    order_id: int
    trade_id: int
    client_order_id: str
    side: OrderSide
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    realized_pnl: Decimal
    is_maker: bool
    event_time: int


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a strategy asks the connector to send. ``price`` is required for LIMIT orders.

    ``position_side``: ``BOTH`` in one-way mode; in hedge mode the position the order opens or
    closes (``LONG``: a BUY opens, a SELL closes it; ``SHORT``: the reverse). A hedge-mode order
    cannot be ``reduce_only`` (Binance refuses the parameter): closing is by side.
    """

    symbol: str
    side: OrderSide
    type: Literal["MARKET", "LIMIT"]
    quantity: Decimal
    price: Decimal | None = None
    time_in_force: Literal["GTC", "IOC", "FOK", "GTX"] = "GTC"
    reduce_only: bool = False
    client_order_id: str = ""
    position_side: PositionSide = "BOTH"

    @property
    def reduces(self) -> bool:
        """True when the order can only shrink a position: reduce-only, or a hedge-mode close
        (a SELL of the LONG side, a BUY of the SHORT side)."""
        if self.reduce_only:
            return True
        side = self.position_side
        return (side == "LONG" and self.side == "SELL") or (side == "SHORT" and self.side == "BUY")


class ExchangeCheck(msgspec.Struct, frozen=True, kw_only=True):
    """What ``tradeloop check --exchange`` found (``check_exchange``): one line per finding,
    ``ok`` false when something the bot relies on is missing."""

    ok: bool
    lines: tuple[str, ...] = ()


class UnreadableEntry(msgspec.Struct, frozen=True, kw_only=True):
    """An entry of the exchange's answer dropped because a value in it was not sane.

    The key fields hold what could be read of its identity: ``asset`` (a balance), ``symbol``
    and ``side`` (a position), ``symbol`` and ``order_id`` (an order); empty or ``None`` when
    that part was unreadable too. ``problem`` says what was wrong.
    """

    family: Literal["balance", "position", "order"]
    asset: str = ""
    symbol: str = ""
    side: str = ""
    order_id: int | None = None
    problem: str = ""


class AccountSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange's view of the account at ``snapshot_time`` (REST, the source of truth).

    ``unreadable``: entries of the answers that were dropped as not sane; the cache's entries
    they may stand for are left alone (not compared, not repaired) by reconciliation.
    """

    balances: tuple[Balance, ...]
    positions: tuple[Position, ...]
    open_orders: tuple[Order, ...]
    snapshot_time: int
    weight_used: int = 0
    unreadable: tuple[UnreadableEntry, ...] = ()


class StreamState(StrEnum):
    """States announced through ``on_stream_state``."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STALE = "stale"
    RESYNCED = "resynced"


class StreamStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A change of state of one exchange stream (``user_data`` or ``market``)."""

    stream: str
    state: StreamState
    at: float
    reason: str = ""
    needs_resync: bool = False


class Freshness(msgspec.Struct, frozen=True, kw_only=True):
    """How fresh the account cache is (``ctx.freshness()``).

    ``live``: a user-data stream feeds the cache and nothing is being caught up (age 0).
    Otherwise ``confirmed_at`` is the clock time (s) of the newest account state known to be
    true (when the stream was last known good, or the start of the last REST read that
    confirmed the cache) and ``age`` the seconds since; both ``None`` before anything was
    confirmed. ``degraded``: the stream is down, stale or silent and the cache follows REST
    polls (docs/reconciliation.md, "Degraded mode"). ``source``: ``stream``, ``rest`` or ``""``.
    """

    live: bool
    degraded: bool
    confirmed_at: float | None
    age: float | None
    source: str


class DegradedStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Degraded mode began (``active``) or ended, announced through ``on_degraded``.

    ``reason`` why it began (``user_data disconnected``, ``user_data silent: ...``); at the end
    ``seconds`` it lasted, ``polls`` REST polls made and their REST ``weight``.
    """

    active: bool
    at: float
    reason: str = ""
    seconds: float = 0.0
    polls: int = 0
    weight: int = 0


MismatchKind = Literal[
    "balance_missing",
    "balance_amount",
    "balance_extra",
    "position_closed_on_exchange",
    "position_missing",
    "position_amount",
    "order_missing",
    "order_extra",
    "order_state",
    "fill_missing",
]


class Mismatch(msgspec.Struct, frozen=True, kw_only=True):
    """One difference between the cache and the exchange's REST snapshot."""

    kind: MismatchKind
    key: str
    cache_value: str | None
    exchange_value: str | None
    cache_time: int | None
    exchange_time: int | None
    repaired: bool


class ReconcileResult(msgspec.Struct, frozen=True, kw_only=True):
    """Outcome of one reconciliation run.

    ``reason`` says why it ran (``startup``, ``interval``, ``resync: ...``, ``manual``);
    ``seeded`` counts entries loaded into an empty cache at startup (not drift);
    ``in_flight_skipped`` counts entries the stream changed after the snapshot was taken;
    ``unreadable`` counts entries of the snapshot dropped as not sane (left for the next run).
    """

    status: Literal["ok", "warning", "error"]
    reason: str
    snapshot_time: int
    duration_s: float
    mismatches: tuple[Mismatch, ...] = ()
    in_flight_skipped: int = 0
    seeded: int = 0
    weight_used: int = 0
    error: str = ""
    unreadable: int = 0

    @property
    def ok(self) -> bool:
        """True when the cache matched the exchange."""
        return self.status == "ok"


class DailyReport(msgspec.Struct, frozen=True, kw_only=True):
    """A finished daily report: its day, the files written and the summary figures."""

    day: str
    files: tuple[str, ...]
    summary: Mapping[str, Any]


class PluginError(msgspec.Struct, frozen=True, kw_only=True):
    """A plugin raised or overran its time budget while handling a hook."""

    plugin: str
    hook: str
    error: str
    consecutive_failures: int
    disabled: bool
    at: float


KillSwitchLimit = Literal["daily_loss", "drawdown", "open_notional"]


@dataclass(frozen=True, slots=True)
class KillSwitchTrip:
    """An account-level limit of ``kill_switch`` was reached (``on_kill_switch``).

    ``limit``: which one; ``value``: what was measured (the day's loss, the drawdown from the
    day's peak equity as a fraction, or the open notional) and ``threshold`` its setting, both
    in the quote asset ``asset`` except the drawdown; ``at``: epoch seconds of the trip;
    ``actions``: what the bot did about it, one line each (strategies held, orders cancelled,
    positions closed, and any step that failed).
    """

    limit: KillSwitchLimit
    value: Decimal
    threshold: Decimal
    at: float
    actions: tuple[str, ...] = ()
    asset: str = "USDT"

    def describe(self) -> str:
        """One line: the limit, the value against its threshold."""
        if self.limit == "drawdown":
            return (
                f"drawdown {self.value:.2%} from the day's peak equity reached "
                f"max_drawdown {self.threshold:.2%}"
            )
        name = "daily loss" if self.limit == "daily_loss" else "open notional"
        key = "max_daily_loss" if self.limit == "daily_loss" else "max_open_notional"
        return f"{name} {self.value:f} {self.asset} reached {key} {self.threshold:f} {self.asset}"


@dataclass(frozen=True, slots=True)
class KillSwitchResume:
    """A tripped kill switch was cleared (``on_kill_switch_resume``): ``trip`` is the trip
    cleared, ``at`` epoch seconds of the clearing, ``by`` who cleared it (``tradeloop resume``,
    or the operator command's sender)."""

    trip: KillSwitchTrip
    at: float
    by: str


class TradeCursors(msgspec.Struct, frozen=True, kw_only=True):
    """What a recorder holds of the account's trades (an answer to ``last_trade_ids``).

    ``cursors``: per symbol, the trade id through which it holds every trade. ``since``: epoch
    ms from which it recorded the account (its first run's start), so a symbol without a
    cursor still has its trades from then on read back; ``None`` if unknown. ``held``: the
    trades it holds after the cursors, ``(symbol, order_id, trade_id, qty)``, which are not
    read back as new.
    """

    cursors: dict[str, int] = msgspec.field(default_factory=dict)
    since: int | None = None
    held: tuple[tuple[str, int, int, Decimal], ...] = ()


class CommandRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An operator command and what it did (``on_command``, journaled).

    ``source`` is the front end (``http``, ``telegram``), ``identity`` who sent it there (the
    token's label, ``chat:<id>``; never a secret); ``command`` and ``args`` as parsed (empty
    ``command`` for a line that did not parse); ``ok`` and ``outcome``: what it did.
    """

    at: float
    source: str
    identity: str
    command: str
    args: tuple[str, ...]
    ok: bool
    outcome: str


AlertKind = Literal[
    "drift",
    "stream_down",
    "plugin_disabled",
    "strategy_paused",
    "kill_switch",
    "order_refused",
    "rate_limited",
]


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """Something an operator should hear about at once (``on_alert``; the webhook pushes it).

    ``kind`` groups alerts for rate limiting and aggregation; ``subject`` names what it is
    about (a stream, a plugin, a strategy, a symbol); ``message`` is one line for a person.
    """

    kind: AlertKind
    subject: str
    message: str
    at: float


JobFunc = Callable[[], Awaitable[None] | None]


class IntervalJob(msgspec.Struct, frozen=True, kw_only=True):
    """Run ``func`` every ``every`` seconds; ``at_start`` runs it once right away."""

    name: str
    every: float
    func: JobFunc
    at_start: bool = False
    timeout: float | None = None


class DailyJob(msgspec.Struct, frozen=True, kw_only=True):
    """Run ``func`` once a day at ``at`` ("HH:MM", UTC)."""

    name: str
    at: str
    func: JobFunc
    timeout: float | None = None


Job = IntervalJob | DailyJob
