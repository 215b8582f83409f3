"""The account-state cache: balances, positions and open orders, in event-time order.

Writers (the exchange connector, reconciliation) call ``apply_*``. An update older than what
the cache holds for that entry is ignored and counted; a duplicate is harmless; fills are
de-duplicated by (symbol, order id, trade id). Every real change is announced with the entry
before and after (``on_balance_update``, ``on_position_update``, ``on_order_update``,
``on_fill``). The entries of one exchange event are applied whole before the first of its
announcements (``begin_event``/``end_event``). Readers get ``AccountView``: read-only mappings
of immutable entries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

from framework.freshness import FreshnessTracker
from framework.types import Balance, Fill, Freshness, Order, Position, order_progress

PositionKey = tuple[str, str]  # (symbol, position side)
OrderKey = tuple[str, int]  # (symbol, order id)
FillKey = tuple[str, int, int]  # (symbol, order id, trade id)

_OPEN = frozenset({"NEW", "PARTIALLY_FILLED"})  # ``Order.is_open``, without the call
_ZERO = Decimal(0)
# Kinds of held announcements (``begin_event``): (kind, before, after).
_BALANCE, _POSITION, _ORDER, _FILL = 0, 1, 2, 3
CLOSED_ORDERS_KEPT = 10_000
FILLS_KEPT = 100_000
LATE_KEPT = 10_000
LateKey = tuple[str, str | PositionKey | OrderKey]  # ("balance", asset), ("position", ...), ...


class CacheListener(Protocol):
    """Where the cache announces changes (the core's ``Hooks``)."""

    def on_balance_update(self, before: Balance | None, after: Balance) -> None: ...
    def on_position_update(self, before: Position | None, after: Position) -> None: ...
    def on_order_update(self, before: Order | None, after: Order) -> None: ...
    def on_fill(self, fill: Fill) -> None: ...


@dataclass
class CacheStats:
    """Counters: applied updates, stale ones ignored, duplicates, fills de-duplicated."""

    applied: int = 0
    stale_ignored: int = 0
    duplicates: int = 0
    fills: int = 0
    duplicate_fills: int = 0
    orders_filled: int = 0
    orders_canceled: int = 0
    orders_expired: int = 0


class AccountView:
    """Read-only view of the cache for plugins and strategies."""

    def __init__(self, cache: AccountCache) -> None:
        self._cache = cache

    @property
    def balances(self) -> Mapping[str, Balance]:
        """Balances by asset."""
        return self._cache.balances_view

    @property
    def positions(self) -> Mapping[PositionKey, Position]:
        """Positions by (symbol, side); closed positions are absent."""
        return self._cache.positions_view

    @property
    def open_orders(self) -> Mapping[OrderKey, Order]:
        """Open orders by (symbol, order id)."""
        return self._cache.open_orders_view

    def position(self, symbol: str, side: str = "BOTH") -> Position | None:
        """One position, or ``None`` if flat."""
        return self._cache.positions_view.get((symbol, side))

    def position_time(self, symbol: str, side: str = "BOTH") -> int | None:
        """Event time of the last update of one position: its own while open, the one that
        closed it while flat (``None``: never seen in this run)."""
        position = self._cache.positions_view.get((symbol, side))
        if position is not None:
            return position.event_time
        return self._cache.flat_since(symbol, side)

    def order(self, symbol: str, order_id: int) -> Order | None:
        """The last state of an order, open or recently closed."""
        return self._cache.order(symbol, order_id)

    def orders_for(self, symbol: str) -> list[Order]:
        """Open orders of one symbol."""
        return [o for (s, _), o in self._cache.open_orders_view.items() if s == symbol]

    @property
    def realized_pnl(self) -> Mapping[str, Decimal]:
        """Realized PnL per symbol, summed over the fills of this run."""
        return self._cache.realized_pnl_view

    @property
    def fees(self) -> Mapping[str, Decimal]:
        """Fees per fee asset, summed over the fills of this run."""
        return self._cache.fees_view

    @property
    def fill_count(self) -> int:
        """Fills recorded in this run (duplicates not counted)."""
        return self._cache.stats.fills

    def freshness(self, now: float) -> Freshness:
        """How fresh the cache is at clock time ``now`` (``ctx.freshness()`` passes the
        bot's clock): live from the stream, or the age of the newest confirmed state."""
        return self._cache.tracker.snapshot(now)


class AccountCache:
    """The cache itself. Plugins get it only through ``BotContext.account_for`` (cache writers:
    the exchange's connector and reconciliation); everyone else reads ``AccountView``."""

    def __init__(
        self,
        listener: CacheListener | None = None,
        *,
        on_cursor: Callable[[str, int], None] | None = None,
    ) -> None:
        self._listener = listener
        self._on_cursor = on_cursor  # told when a trade cursor moves on (``on_trade_cursor``)
        self._balances: dict[str, Balance] = {}
        self._positions: dict[PositionKey, Position] = {}
        self._flat_since: dict[PositionKey, int] = {}  # event time of each closed position
        self._orders: dict[OrderKey, Order] = {}
        self._closed: OrderedDict[OrderKey, Order] = OrderedDict()
        self._fills: OrderedDict[FillKey, None] = OrderedDict()
        self._fill_qty: dict[OrderKey, Decimal] = {}  # per order: quantity of recorded fills
        self._prior_qty: dict[OrderKey, Decimal] = {}  # per order: filled before it was tracked
        self._short: set[OrderKey] = set()  # orders whose executed quantity exceeds their fills
        self._symbols: set[str] = set()  # symbols of every order seen (a fill's order too)
        self._trade_cursor: dict[str, int] = {}  # per symbol: trades up to this id are known
        self.trades_since: int | None = None  # epoch ms: trades from then on were recorded
        self.balances_view: Mapping[str, Balance] = MappingProxyType(self._balances)
        self.positions_view: Mapping[PositionKey, Position] = MappingProxyType(self._positions)
        self.open_orders_view: Mapping[OrderKey, Order] = MappingProxyType(self._orders)
        self.stats = CacheStats()
        self.realized_pnl: dict[str, Decimal] = {}  # per symbol, from fills
        self.fees: dict[str, Decimal] = {}  # per fee asset, from fills
        self.realized_pnl_view: Mapping[str, Decimal] = MappingProxyType(self.realized_pnl)
        self.fees_view: Mapping[str, Decimal] = MappingProxyType(self.fees)
        self.view = AccountView(self)
        self.reconciled_through = 0  # updates older than this are stale (``reconciled``)
        self.late: dict[LateKey, Balance | Position | Order] = {}  # refused as older than that
        self.tracker = FreshnessTracker()  # how fresh the cache is (``freshness``)
        # Announcements held while one exchange event is applied (``begin_event``).
        self._held: list[tuple[int, Any, Any]] | None = None

    # --------------------------------------------------------------------------- events

    def begin_event(self) -> None:
        """Hold announcements until ``end_event``: the entries applied in between are one
        exchange event (an ``ACCOUNT_UPDATE``'s balances and positions, an order update and
        its trade), and no hook may see some of them applied and others not."""
        if self._held is None:
            self._held = []

    def end_event(self) -> None:
        """Announce, in the order applied, every change held since ``begin_event``."""
        held, self._held = self._held, None
        if held:
            listener = self._listener
            assert listener is not None  # nothing is held without one
            announce = (
                listener.on_balance_update,
                listener.on_position_update,
                listener.on_order_update,
            )
            for kind, before, after in held:
                if kind < _FILL:
                    announce[kind](before, after)
                else:
                    listener.on_fill(after)

    # ------------------------------------------------------------------------- balances

    def apply_balance(self, balance: Balance) -> bool:
        """Apply a balance update; False if stale or unchanged."""
        # Hot path (one call per entry of every ACCOUNT_UPDATE): locals, no helper calls.
        when = balance.event_time
        stats = self.stats
        if when < self.reconciled_through:
            return self._late(("balance", balance.asset), balance)
        asset = balance.asset
        balances = self._balances
        before = balances.get(asset)
        if before is not None:
            if when < before.event_time:
                stats.stale_ignored += 1
                return False
            if before == balance:
                stats.duplicates += 1
                return False
        balances[asset] = balance
        stats.applied += 1
        listener = self._listener
        if listener is not None:
            queued = self._held
            if queued is None:
                listener.on_balance_update(before, balance)
            else:
                queued.append((_BALANCE, before, balance))
        return True

    # ------------------------------------------------------------------------ positions

    def apply_position(self, position: Position) -> bool:
        """Apply a position update (amount 0 removes it); False if stale or unchanged."""
        # Hot path, like ``apply_balance``.
        when = position.event_time
        stats = self.stats
        key = (position.symbol, position.side)
        if when < self.reconciled_through:
            return self._late(("position", key), position)
        positions = self._positions
        flat_since = self._flat_since
        before = positions.get(key)
        if before is not None:
            if when < before.event_time:
                stats.stale_ignored += 1
                return False
            if before == position:
                stats.duplicates += 1
                return False
        else:
            held = flat_since.get(key)
            if held is not None and when < held:
                stats.stale_ignored += 1
                return False
            if position.amount == _ZERO:
                stats.duplicates += 1
                return False
        if position.amount == _ZERO:
            del positions[key]
            flat_since[key] = when
        else:
            positions[key] = position
            if key in flat_since:
                del flat_since[key]
        stats.applied += 1
        listener = self._listener
        if listener is not None:
            queued = self._held
            if queued is None:
                listener.on_position_update(before, position)
            else:
                queued.append((_POSITION, before, position))
        return True

    # --------------------------------------------------------------------------- orders

    def apply_order(self, order: Order) -> bool:
        """Apply an order update; closed orders leave the open set. False if stale: older than
        the held state, or open with less progress (filled quantity, then status)."""
        key = (order.symbol, order.order_id)
        if order.event_time < self.reconciled_through:
            self._symbols.add(order.symbol)
            return self._late(("order", key), order)
        before = self._orders.get(key) or self._closed.get(key)
        if before is None:
            self._symbols.add(order.symbol)
        else:
            # An open order never goes back (its filled quantity only grows, a closed order
            # never reopens): an open state with less progress is stale whatever its time.
            # That keeps a REST answer (stamped with the transaction time ``updateTime``) and
            # a stream event of the same order (stamped with its later event time ``E``) in
            # order. A closed state is ordered by time alone, so a repair always lands.
            when, held = order.event_time, before.event_time
            if when < held or (
                (when == held or order.status in _OPEN)
                and order_progress(order) < order_progress(before)
            ):
                self.stats.stale_ignored += 1
                return False
            if before == order:
                self.stats.duplicates += 1
                return False
        if order.is_open:
            self._orders[key] = order
            self._closed.pop(key, None)
        else:
            if before is None or before.is_open:
                self._count_closed(order.status)
            self._orders.pop(key, None)
            self._closed[key] = order
            self._closed.move_to_end(key)
            while len(self._closed) > CLOSED_ORDERS_KEPT:
                gone, _ = self._closed.popitem(last=False)
                self._fill_qty.pop(gone, None)
                self._prior_qty.pop(gone, None)
                self._short.discard(gone)
        self._check_fills(key, order)
        self.stats.applied += 1
        if self._listener is not None:
            if self._held is None:
                self._listener.on_order_update(before, order)
            else:
                self._held.append((_ORDER, before, order))
        return True

    def apply_fill(self, fill: Fill) -> bool:
        """Record a trade once; False for a duplicate."""
        key = (fill.symbol, fill.order_id, fill.trade_id)
        if key in self._fills:
            self.stats.duplicate_fills += 1
            return False
        self._fills[key] = None
        while len(self._fills) > FILLS_KEPT:
            self._fills.popitem(last=False)
        order_key = (fill.symbol, fill.order_id)
        self._fill_qty[order_key] = self._fill_qty.get(order_key, _ZERO) + fill.qty
        if order_key in self._short:
            short = self.order(fill.symbol, fill.order_id)
            assert short is not None  # an order leaves ``_short`` when it leaves the cache
            self._check_fills(order_key, short)
        self.stats.fills += 1
        pnl = self.realized_pnl
        pnl[fill.symbol] = pnl.get(fill.symbol, _ZERO) + fill.realized_pnl
        self.fees[fill.fee_asset] = self.fees.get(fill.fee_asset, _ZERO) + fill.fee
        if self._listener is not None:
            if self._held is None:
                self._listener.on_fill(fill)
            else:
                self._held.append((_FILL, None, fill))
        return True

    # ------------------------------------------------------------------ reconciliation

    def order(self, symbol: str, order_id: int) -> Order | None:
        """The last state the cache holds for an order, open or recently closed."""
        key = (symbol, order_id)
        return self._orders.get(key) or self._closed.get(key)

    def has_fill(self, symbol: str, order_id: int, trade_id: int) -> bool:
        """True if this trade was recorded (among the last ``FILLS_KEPT``)."""
        return (symbol, order_id, trade_id) in self._fills

    def filled_qty(self, symbol: str, order_id: int) -> Decimal:
        """Quantity of the order's recorded fills, plus what it filled before it was tracked."""
        return self._accounted((symbol, order_id))

    def set_prior_fills(self, symbol: str, order_id: int, qty: Decimal) -> None:
        """The order had filled ``qty`` before this run tracked its fills (history, not drift).

        Reconciliation calls it for orders seeded from the startup snapshot and for trades it
        finds older than that snapshot, so ``fill_gaps`` does not ask for them again.
        """
        key = (symbol, order_id)
        self._prior_qty[key] = qty
        order = self.order(symbol, order_id)
        if order is not None:
            self._check_fills(key, order)

    def prior_fills(self, symbol: str, order_id: int) -> Decimal:
        """The quantity ``set_prior_fills`` last gave for the order (0 if none)."""
        return self._prior_qty.get((symbol, order_id), _ZERO)

    def trade_cursor(self, symbol: str) -> int | None:
        """The trade id through which every trade of ``symbol`` is known: recorded here, or
        history from before the bot watched the account (``None``: not known yet)."""
        return self._trade_cursor.get(symbol)

    def set_trade_cursor(self, symbol: str, trade_id: int) -> None:
        """Every trade of ``symbol`` up to ``trade_id`` is known; the cursor never moves back.

        Reconciliation advances it after each sweep of the trade list; at startup the core
        seeds it with the cursor a journal holds (``last_trade_ids``), so trades made while
        the bot was down are read and recorded. A cursor that moves on is announced
        (``on_trade_cursor``) after the fills it covers (``on_fill``).
        """
        held = self._trade_cursor.get(symbol)
        if held is None or trade_id > held:
            self._trade_cursor[symbol] = trade_id
            if self._on_cursor is not None:
                self._on_cursor(symbol, trade_id)

    def hold_fill(self, symbol: str, order_id: int, trade_id: int, qty: Decimal) -> None:
        """A trade an earlier run recorded durably (a journal holds it): known (a sweep does
        not record it again) and part of its order's filled quantity, but not announced,
        counted or added to this run's PnL and fees."""
        key = (symbol, order_id, trade_id)
        if key in self._fills:
            return
        self._fills[key] = None
        while len(self._fills) > FILLS_KEPT:
            self._fills.popitem(last=False)
        order_key = (symbol, order_id)
        self._fill_qty[order_key] = self._fill_qty.get(order_key, _ZERO) + qty

    def trade_symbols(self) -> set[str]:
        """Symbols the account may trade on, as far as the cache knows: those of its orders
        (so of its fills), positions and trade cursors."""
        symbols = set(self._symbols)
        symbols.update(symbol for symbol, _ in self._positions)
        symbols.update(self._trade_cursor)
        return symbols

    def fill_gaps(self, through: int) -> list[tuple[Order, Decimal]]:
        """Orders last updated at or before ``through`` whose executed quantity exceeds their
        recorded fills (``filled_qty``): ``(order, missing quantity)``, oldest update first.

        A gap means a trade event was lost: the stream delivers an order's state and its fill
        in one message, so a gap is never an update still in flight, only one that never came
        (or an order repaired from REST before its trades were read).
        """
        gaps: list[tuple[Order, Decimal]] = []
        for key in self._short:
            order = self.order(*key)
            assert order is not None  # an order leaves ``_short`` when it leaves the cache
            if order.event_time <= through:
                gaps.append((order, order.executed_qty - self._accounted(key)))
        gaps.sort(key=lambda gap: gap[0].event_time)
        return gaps

    def flat_since(self, symbol: str, side: str) -> int | None:
        """Event time at which (symbol, side) went flat; ``None`` if open or never seen."""
        return self._flat_since.get((symbol, side))

    def reconciled(self, snapshot_time: int) -> None:
        """Every entry was compared with a REST snapshot taken at ``snapshot_time``.

        From now on a balance, position or order update older than that is stale, also for
        entries the cache does not hold (a late event of an order whose close was lost must
        not reopen it): the snapshot already contained it. Fills are not affected. The newest
        refused update per entry is kept in ``late`` (until the next call), so reconciliation
        can tell a difference the stream was still delivering from drift.
        """
        self.reconciled_through = max(self.reconciled_through, snapshot_time)
        self.late.clear()

    # ------------------------------------------------------------------------ freshness

    def stream_up(self) -> None:
        """The user-data stream connected: it feeds the cache (the connector tells)."""
        self.tracker.stream_up()

    def stream_down(self, at: float) -> None:
        """The user-data stream was last known good at clock time ``at``."""
        self.tracker.stream_down(at)

    def confirmed(self, at: float) -> None:
        """A REST read started at clock time ``at`` confirmed the cache (reconciliation)."""
        self.tracker.confirmed(at)

    def set_degraded(self, on: bool) -> None:
        """Degraded mode began or ended (reconciliation)."""
        self.tracker.set_degraded(on)

    def freshness(self, now: float) -> Freshness:
        """How fresh the cache is at clock time ``now``."""
        return self.tracker.snapshot(now)

    # ------------------------------------------------------------------------ internals

    def _late(self, key: LateKey, entry: Balance | Position | Order) -> bool:
        self.stats.stale_ignored += 1
        held = self.late.get(key)
        if held is None:
            if len(self.late) < LATE_KEPT:
                self.late[key] = entry
        elif entry.event_time > held.event_time or (
            entry.event_time == held.event_time
            and (
                not isinstance(entry, Order)
                or not isinstance(held, Order)
                or order_progress(entry) >= order_progress(held)
            )
        ):
            self.late[key] = entry
        return False

    def _check_fills(self, key: OrderKey, order: Order) -> None:
        """Keep ``_short`` (the orders ``fill_gaps`` reports) up to date for one order."""
        executed = order.executed_qty
        if executed and executed > self._accounted(key):
            self._short.add(key)
        else:
            self._short.discard(key)

    def _accounted(self, key: OrderKey) -> Decimal:
        """Quantity of the order's recorded fills plus its prior (history) quantity."""
        return self._fill_qty.get(key, _ZERO) + self._prior_qty.get(key, _ZERO)

    def _count_closed(self, status: str) -> None:
        if status == "FILLED":
            self.stats.orders_filled += 1
        elif status == "CANCELED":
            self.stats.orders_canceled += 1
        else:
            self.stats.orders_expired += 1
