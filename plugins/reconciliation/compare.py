"""Pure comparison of a REST snapshot with the account cache (no I/O, no clock).

Every entry (a balance per asset, a position per (symbol, side), an open order per (symbol,
order id)) gets one ``Verdict`` from the rule in docs/reconciliation.md, with ``T`` the
snapshot time (the exchange's clock read before any account request):

* ``IN_FLIGHT``: the cache entry (its event time) or the exchange entry (its update time)
  changed at or after ``T``, or the cache is ahead of a lagging REST answer (an order's fills
  only grow, a closed order never reopens). Not compared, never overwritten.
* ``OK``: both agree (balances within the asset's tolerance, entry prices within a relative
  tolerance, everything else exactly).
* ``SEED``: missing from the cache and the cache is being seeded (the first run), or a
  balance the exchange holds none of. Loaded, not drift.
* ``SUSPECT``: they differ and both are older than ``T``. The exchange's answer may still
  reflect a change whose stream event is on its way, so a suspect is checked again with
  ``verdict_now`` after ``confirm_delay``, with what the stream delivered meanwhile; one that
  still differs is drift.

The same functions serve the first pass and the re-check, so both apply one rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, Protocol

from framework.types import (
    AccountSnapshot,
    Balance,
    MismatchKind,
    Order,
    Position,
    UnreadableEntry,
    order_progress,
)

Family = Literal["balance", "position", "order"]
Late = Balance | Position | Order | None
ZERO = Decimal(0)
_SEED_KINDS: dict[Family, MismatchKind] = {
    "balance": "balance_missing",
    "position": "position_missing",
    "order": "order_missing",
}


class Verdict(Enum):
    """What the rule says about one entry."""

    OK = "ok"
    IN_FLIGHT = "in_flight"
    SEED = "seed"
    SUSPECT = "suspect"


class CacheReader(Protocol):
    """What comparison reads from the cache (``framework.cache.AccountCache`` has it all)."""

    @property
    def balances_view(self) -> Mapping[str, Balance]: ...
    @property
    def positions_view(self) -> Mapping[tuple[str, str], Position]: ...
    @property
    def open_orders_view(self) -> Mapping[tuple[str, int], Order]: ...
    @property
    def late(self) -> Mapping[tuple[str, Any], Balance | Position | Order]: ...
    def order(self, symbol: str, order_id: int) -> Order | None: ...
    def flat_since(self, symbol: str, side: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Tolerances:
    """Wallet-balance tolerance per asset, and the relative entry-price tolerance."""

    default: Decimal = Decimal("0.00000001")
    per_asset: Mapping[str, Decimal] = field(default_factory=dict)
    entry_price: Decimal = Decimal(0)

    def balance(self, asset: str) -> Decimal:
        """The tolerance of one asset."""
        return self.per_asset.get(asset, self.default)


@dataclass(slots=True)
class Finding:
    """One entry to seed, or suspected of drift, with both sides as they were seen."""

    family: Family
    kind: MismatchKind
    key: str | tuple[str, str] | tuple[str, int]
    cache: Balance | Position | Order | None
    exchange: Balance | Position | Order | None


def position_key(finding: Finding) -> tuple[str, str]:
    """(symbol, side) of a position finding."""
    key = finding.key
    assert isinstance(key, tuple)
    side = key[1]
    assert isinstance(side, str)
    return key[0], side


def order_key(finding: Finding) -> tuple[str, int]:
    """(symbol, order id) of an order finding."""
    key = finding.key
    assert isinstance(key, tuple)
    order_id = key[1]
    assert isinstance(order_id, int)
    return key[0], order_id


@dataclass(slots=True)
class Comparison:
    """The first pass over a snapshot."""

    snapshot_time: int
    compared: int = 0
    in_flight: int = 0
    unreadable: int = 0
    seeds: list[Finding] = field(default_factory=list)
    suspects: list[Finding] = field(default_factory=list)

    def file(
        self,
        family: Family,
        verdict: Verdict,
        kind: MismatchKind | None,
        key: str | tuple[str, str] | tuple[str, int],
        cache_entry: Balance | Position | Order | None,
        exchange_entry: Balance | Position | Order | None,
    ) -> None:
        """File an entry that did not agree: in flight (counted), to seed, or a suspect."""
        if verdict is Verdict.IN_FLIGHT:
            self.in_flight += 1
        elif verdict is Verdict.SEED:  # only an entry the cache lacks is seeded
            self.seeds.append(Finding(family, _SEED_KINDS[family], key, None, exchange_entry))
        elif verdict is Verdict.SUSPECT:
            assert kind is not None  # every SUSPECT verdict names its kind
            self.suspects.append(Finding(family, kind, key, cache_entry, exchange_entry))


# ----------------------------------------------------------------------------- per entry


def balance_verdict(
    c: Balance | None, x: Balance | None, t: int, tol: Decimal, seed: bool
) -> tuple[Verdict, MismatchKind | None]:
    """One asset: ``c`` in the cache, ``x`` on the exchange (``None``: absent)."""
    if c is None:
        if x is None:
            return Verdict.OK, None
        if seed or abs(x.wallet_balance) <= tol:
            return Verdict.SEED, None
        if x.event_time >= t:
            return Verdict.IN_FLIGHT, None
        return Verdict.SUSPECT, "balance_missing"
    if c.event_time >= t:
        return Verdict.IN_FLIGHT, None
    if x is None:
        if abs(c.wallet_balance) <= tol:
            return Verdict.OK, None
        return Verdict.SUSPECT, "balance_extra"
    if x.event_time >= t:
        return Verdict.IN_FLIGHT, None
    if c.wallet_balance == x.wallet_balance or abs(c.wallet_balance - x.wallet_balance) <= tol:
        return Verdict.OK, None
    return Verdict.SUSPECT, "balance_amount"


def position_verdict(
    c: Position | None,
    flat_since: int | None,
    x: Position | None,
    t: int,
    price_tol: Decimal,
    seed: bool,
) -> tuple[Verdict, MismatchKind | None]:
    """One (symbol, side): ``c`` open in the cache (``flat_since`` when it closed), ``x`` the
    exchange's row (amount 0 or absent: flat)."""
    x_open = x is not None and x.amount != 0
    if c is None:
        if not x_open:
            return Verdict.OK, None
        assert x is not None
        if flat_since is not None and flat_since >= t:
            return Verdict.IN_FLIGHT, None
        if seed and flat_since is None:
            return Verdict.SEED, None
        if x.event_time >= t:
            return Verdict.IN_FLIGHT, None
        return Verdict.SUSPECT, "position_missing"
    if c.event_time >= t or (x is not None and x.event_time >= t):
        return Verdict.IN_FLIGHT, None
    if not x_open:
        return Verdict.SUSPECT, "position_closed_on_exchange"
    assert x is not None
    if c.amount == x.amount and _close(c.entry_price, x.entry_price, price_tol):
        return Verdict.OK, None
    return Verdict.SUSPECT, "position_amount"


def open_order_verdict(
    c: Order | None, last: Order | None, x: Order, t: int, seed: bool
) -> tuple[Verdict, MismatchKind | None]:
    """An order open on the exchange (``x``): ``c`` open in the cache, ``last`` the cache's
    last state of it (open or closed)."""
    if c is None:
        if last is not None:
            # Closed in the cache: in flight, or REST lags (an order never reopens).
            return Verdict.IN_FLIGHT, None
        if seed:
            return Verdict.SEED, None
        if x.event_time >= t:
            return Verdict.IN_FLIGHT, None
        return Verdict.SUSPECT, "order_missing"
    if c.event_time >= t or x.event_time >= t:
        return Verdict.IN_FLIGHT, None
    if same_order(c, x):
        return Verdict.OK, None
    if order_progress(c) > order_progress(x):
        return Verdict.IN_FLIGHT, None  # the cache saw fills REST does not show yet
    return Verdict.SUSPECT, "order_state"


def cached_order_verdict(c: Order, t: int) -> tuple[Verdict, MismatchKind | None]:
    """An order open in the cache that the exchange does not list as open."""
    if c.event_time >= t:
        return Verdict.IN_FLIGHT, None
    return Verdict.SUSPECT, "order_extra"


def queried_order_verdict(c: Order, q: Order | None, t: int) -> tuple[Verdict, MismatchKind | None]:
    """An ``order_extra`` confirmed after the delay, against the exchange's answer to a query
    (``None``: the exchange does not know the order)."""
    if c.event_time >= t:
        return Verdict.IN_FLIGHT, None
    if q is None:
        return Verdict.SUSPECT, "order_extra"
    if q.event_time >= t:
        return Verdict.IN_FLIGHT, None
    if q.is_open:
        if same_order(c, q) or order_progress(c) >= order_progress(q):
            return Verdict.OK, None  # still open: the open-orders list was behind
        return Verdict.SUSPECT, "order_state"
    return Verdict.SUSPECT, "order_extra"


def same_order(a: Order, b: Order) -> bool:
    """Status, filled quantity, quantity and price agree."""
    return (
        a.status == b.status
        and a.executed_qty == b.executed_qty
        and a.orig_qty == b.orig_qty
        and a.price == b.price
    )


def _close(a: Decimal, b: Decimal, rel: Decimal) -> bool:
    if a == b:
        return True
    return abs(a - b) <= rel * max(abs(a), abs(b))


# ----------------------------------------------------------------------------- snapshot


class Unreadable:
    """Which cache entries the snapshot's unreadable entries may stand for (left alone).

    An entry whose key could be read hides that key; one whose key could not be read hides
    every cache entry of its family (on its symbol, if that much was readable) that the
    snapshot does not list.
    """

    def __init__(self, entries: tuple[UnreadableEntry, ...]) -> None:
        self.balances: set[str] = set()
        self.positions: set[tuple[str, str]] = set()
        self.position_symbols: set[str] = set()
        self.orders: set[tuple[str, int]] = set()
        self.order_symbols: set[str] = set()
        self.all: set[Family] = set()
        for e in entries:
            if e.family == "balance":
                if e.asset:
                    self.balances.add(e.asset)
                else:
                    self.all.add("balance")
            elif e.family == "position":
                if e.symbol and e.side:
                    self.positions.add((e.symbol, e.side))
                elif e.symbol:
                    self.position_symbols.add(e.symbol)
                else:
                    self.all.add("position")
            elif e.symbol and e.order_id is not None:
                self.orders.add((e.symbol, e.order_id))
            elif e.symbol:
                self.order_symbols.add(e.symbol)
            else:
                self.all.add("order")

    def balance(self, asset: str) -> bool:
        """The exchange's row of ``asset`` may be one that was dropped."""
        return "balance" in self.all or asset in self.balances

    def position(self, key: tuple[str, str]) -> bool:
        """The exchange's row of (symbol, side) may be one that was dropped."""
        return "position" in self.all or key in self.positions or key[0] in self.position_symbols

    def order(self, key: tuple[str, int]) -> bool:
        """The exchange's entry of (symbol, order id) may be one that was dropped."""
        return "order" in self.all or key in self.orders or key[0] in self.order_symbols


def compare(
    snapshot: AccountSnapshot, cache: CacheReader, tol: Tolerances, *, seed: bool
) -> Comparison:
    """The first pass: every entry of the snapshot and of the cache gets its verdict.

    A cache entry the snapshot does not list, where the snapshot dropped an unreadable entry
    that may be it, is left alone (counted in ``unreadable``): the next run compares it.
    """
    t = snapshot.snapshot_time
    out = Comparison(snapshot_time=t)
    unreadable = Unreadable(snapshot.unreadable)
    out.unreadable = len(snapshot.unreadable)

    # balances
    cached_balances = cache.balances_view
    rest_balances = {b.asset: b for b in snapshot.balances}
    out.compared += len(rest_balances)
    for asset, x in rest_balances.items():
        c = cached_balances.get(asset)
        verdict, kind = balance_verdict(c, x, t, tol.balance(asset), seed)
        if verdict is not Verdict.OK:
            out.file("balance", verdict, kind, asset, c, x)
    for asset, c in cached_balances.items():
        if asset not in rest_balances and not unreadable.balance(asset):
            out.compared += 1
            verdict, kind = balance_verdict(c, None, t, tol.balance(asset), seed)
            if verdict is not Verdict.OK:
                out.file("balance", verdict, kind, asset, c, None)

    # positions
    cached_positions = cache.positions_view
    rest_positions: dict[tuple[str, str], Position] = {
        (p.symbol, p.side): p for p in snapshot.positions
    }
    price_tol = tol.entry_price
    out.compared += len(rest_positions)
    for pkey, xp in rest_positions.items():
        cp = cached_positions.get(pkey)
        flat = cache.flat_since(*pkey) if cp is None else None
        verdict, kind = position_verdict(cp, flat, xp, t, price_tol, seed)
        if verdict is not Verdict.OK:
            out.file("position", verdict, kind, pkey, cp, xp)
    for pkey, cp in cached_positions.items():
        if pkey not in rest_positions and not unreadable.position(pkey):
            out.compared += 1
            verdict, kind = position_verdict(cp, None, None, t, price_tol, seed)
            if verdict is not Verdict.OK:
                out.file("position", verdict, kind, pkey, cp, None)

    # orders
    cached_orders = cache.open_orders_view
    rest_orders = {(o.symbol, o.order_id): o for o in snapshot.open_orders}
    out.compared += len(rest_orders)
    for okey, xo in rest_orders.items():
        co = cached_orders.get(okey)
        last = cache.order(*okey) if co is None else co
        verdict, kind = open_order_verdict(co, last, xo, t, seed)
        if verdict is not Verdict.OK:
            out.file("order", verdict, kind, okey, co, xo)
    for okey, co in cached_orders.items():
        if okey not in rest_orders and not unreadable.order(okey):
            out.compared += 1
            verdict, kind = cached_order_verdict(co, t)
            if verdict is not Verdict.OK:
                out.file("order", verdict, kind, okey, co, None)
    return out


def verdict_now(
    finding: Finding, cache: CacheReader, t: int, tol: Tolerances
) -> tuple[Verdict, MismatchKind | None, Balance | Position | Order | None, Late]:
    """Re-check a suspect after ``confirm_delay`` against what the stream has said since.

    Once a run has compared, the cache refuses updates older than the snapshot and keeps the
    newest refused one per entry in ``cache.late``: the entry judged is the newest of the
    cache's and that late update. Returns the verdict, the kind of drift, the cache's entry,
    and the late update when it was the newer (then an in-flight difference is settled by
    writing it, stamped with the snapshot time). Seeding is over: a missing entry is drift.
    """
    late = cache.late
    if finding.family == "balance":
        assert isinstance(finding.key, str)
        asset = finding.key
        b = cache.balances_view.get(asset)
        lb = late.get(("balance", asset))
        newer_b = (
            lb if isinstance(lb, Balance) and (b is None or lb.event_time >= b.event_time) else None
        )
        x_b = finding.exchange if isinstance(finding.exchange, Balance) else None
        verdict, kind = balance_verdict(newer_b or b, x_b, t, tol.balance(asset), seed=False)
        return verdict, kind, b, newer_b
    if finding.family == "position":
        key = position_key(finding)
        p = cache.positions_view.get(key)
        flat = cache.flat_since(*key) if p is None else None
        lp = late.get(("position", key))
        held = p.event_time if p is not None else flat
        newer_p = (
            lp if isinstance(lp, Position) and (held is None or lp.event_time >= held) else None
        )
        if newer_p is not None:
            p_now, flat_now = (None, newer_p.event_time) if newer_p.amount == 0 else (newer_p, None)
        else:
            p_now, flat_now = p, flat
        x_p = finding.exchange if isinstance(finding.exchange, Position) else None
        verdict, kind = position_verdict(p_now, flat_now, x_p, t, tol.entry_price, seed=False)
        return verdict, kind, p, newer_p
    key_o = order_key(finding)
    o = cache.open_orders_view.get(key_o)
    last = o if o is not None else cache.order(*key_o)
    lo = late.get(("order", key_o))
    newer_o = lo if isinstance(lo, Order) and (last is None or _later(lo, last)) else None
    last_now = newer_o or last
    open_now = last_now if last_now is not None and last_now.is_open else None
    x_o = finding.exchange if isinstance(finding.exchange, Order) else None
    if x_o is not None:
        verdict, kind = open_order_verdict(open_now, last_now, x_o, t, seed=False)
    elif open_now is None:  # the stream closed it meanwhile
        verdict, kind = Verdict.IN_FLIGHT, None
    else:
        verdict, kind = cached_order_verdict(open_now, t)
    return verdict, kind, o, newer_o


def _later(a: Order, b: Order) -> bool:
    """Would the cache take ``a`` over ``b`` (as ``apply_order`` orders them)?"""
    return a.event_time > b.event_time or (
        a.event_time == b.event_time and order_progress(a) >= order_progress(b) and a != b
    )
