"""Repairs: the exchange's value, stamped with the snapshot time, written through the cache.

A repair goes through ``AccountCache.apply_*`` with ``event_time`` = the snapshot time ``T``,
so the cache's own ordering keeps every stream update newer than ``T`` (it wins over the
repair, whether it arrived before or after it) and ignores late stream updates older than
``T`` (the REST answer already contains them). Each repair also emits the usual
``on_*_update`` hook, so plugins see repairs like any other change.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

import msgspec

from framework.types import Balance, Mismatch, MismatchKind, Order, Position

from .compare import (
    CacheReader,
    Finding,
    Tolerances,
    Verdict,
    order_key,
    queried_order_verdict,
    verdict_now,
)

ZERO = Decimal(0)
# The status given to an order the exchange no longer knows (GET /fapi/v1/order forgets
# canceled or expired orders without fills after 3 days, and every order after 90 days).
UNKNOWN_ORDER_STATUS = "CANCELED"


class CacheWriter(Protocol):
    """The writing side of ``framework.cache.AccountCache``."""

    def apply_balance(self, balance: Balance) -> bool: ...
    def apply_position(self, position: Position) -> bool: ...
    def apply_order(self, order: Order) -> bool: ...


class Cache(CacheReader, CacheWriter, Protocol):
    """Both sides (``framework.cache.AccountCache``)."""


OrderAnswers = Mapping[tuple[str, int], Order | BaseException | None]
"""Answers of ``query_order`` by (symbol, order id): the order, ``None`` (unknown to the
exchange) or the exception the query raised. An order missing here was not asked."""


def repair_value(finding: Finding, t: int) -> Balance | Position | Order:
    """What to write for ``finding``: the exchange's entry (or its absence), stamped ``t``."""
    x, c = finding.exchange, finding.cache
    if x is not None:
        return msgspec.structs.replace(x, event_time=t)
    if isinstance(c, Balance):
        return Balance(
            asset=c.asset,
            wallet_balance=ZERO,
            cross_wallet_balance=ZERO,
            event_time=t,
            available_balance=ZERO,
        )
    if isinstance(c, Position):
        return Position(
            symbol=c.symbol,
            side=c.side,
            amount=ZERO,
            entry_price=ZERO,
            unrealized_pnl=ZERO,
            event_time=t,
        )
    if isinstance(c, Order):
        return msgspec.structs.replace(c, status=UNKNOWN_ORDER_STATUS, event_time=t)
    raise ValueError(f"nothing to repair {finding.key!r} with")


def apply(cache: CacheWriter, value: Balance | Position | Order) -> bool:
    """Write one repair; False when the cache refused it (it holds something newer)."""
    if isinstance(value, Balance):
        return cache.apply_balance(value)
    if isinstance(value, Position):
        return cache.apply_position(value)
    return cache.apply_order(value)


def seed(cache: CacheWriter, findings: list[Finding], t: int) -> int:
    """Load entries missing from the cache; how many were loaded."""
    loaded = 0
    for finding in findings:
        if finding.exchange is not None and apply(cache, repair_value(finding, t)):
            loaded += 1
    return loaded


def still_suspect(finding: Finding, cache: CacheReader, t: int, tol: Tolerances) -> bool:
    """After ``confirm_delay``: does ``finding`` still look like drift?"""
    return verdict_now(finding, cache, t, tol)[0] is Verdict.SUSPECT


def needs_query(finding: Finding) -> bool:
    """An order open in the cache that the exchange does not list as open."""
    return finding.family == "order" and finding.exchange is None


def settle(
    suspects: list[Finding], cache: Cache, t: int, tol: Tolerances, answers: OrderAnswers
) -> tuple[int, list[Mismatch]]:
    """Judge every suspect once more against the cache and the late updates it refused, and
    write the outcome: an in-flight difference gets the stream's late update, drift gets the
    exchange's value. Call it without awaiting in between, so nothing changes under it.

    Returns (suspects that were in flight after all, the mismatches).
    """
    in_flight = 0
    mismatches: list[Mismatch] = []
    for finding in suspects:
        if needs_query(finding):
            found = _settle_absent_order(finding, cache, t, answers)
        else:
            found = _settle(finding, cache, t, tol)
        if found is None:
            in_flight += 1
        else:
            mismatches.append(found)
    return in_flight, mismatches


def _catch_up(cache: Cache, late: Balance | Position | Order | None, t: int) -> None:
    """Write a late update the cache refused (it was in flight, so it is not drift)."""
    if late is not None:
        apply(cache, msgspec.structs.replace(late, event_time=t))


def _settle(finding: Finding, cache: Cache, t: int, tol: Tolerances) -> Mismatch | None:
    verdict, kind, now, late = verdict_now(finding, cache, t, tol)
    if verdict is not Verdict.SUSPECT or kind is None:
        _catch_up(cache, late, t)
        return None
    repaired = apply(cache, repair_value(finding, t))
    return mismatch(kind, finding, now, finding.exchange, repaired)


def _settle_absent_order(
    finding: Finding, cache: Cache, t: int, answers: OrderAnswers
) -> Mismatch | None:
    key = order_key(finding)
    now = cache.open_orders_view.get(key)
    verdict, kind, _, late = verdict_now(finding, cache, t, Tolerances())
    if verdict is not Verdict.SUSPECT or now is None:
        _catch_up(cache, late, t)
        return None  # the stream closed or changed it meanwhile
    if key not in answers:  # over max_order_queries, or it looked closed before the queries
        return mismatch("order_extra", finding, now, None, repaired=False)
    answer = answers[key]
    if isinstance(answer, BaseException):
        return mismatch("order_extra", finding, now, None, repaired=False)
    judged = late if isinstance(late, Order) else now
    verdict, kind = queried_order_verdict(judged, answer, t)
    if verdict is not Verdict.SUSPECT or kind is None:
        _catch_up(cache, late, t)
        return None
    finding.cache, finding.exchange = now, answer
    repaired = apply(cache, repair_value(finding, t))
    return mismatch(kind, finding, now, answer, repaired)


# ------------------------------------------------------------------------------- reporting


def display_key(finding: Finding) -> str:
    """``USDT``, ``BTCUSDT:BOTH``, ``BTCUSDT:42 (tl-s1-7)``."""
    key = finding.key
    if isinstance(key, str):
        return key
    symbol, second = key
    if finding.family == "order":
        entry = finding.cache if finding.cache is not None else finding.exchange
        cid = entry.client_order_id if isinstance(entry, Order) else ""
        return f"{symbol}:{second} ({cid})" if cid else f"{symbol}:{second}"
    return f"{symbol}:{second}"


def describe(entry: Balance | Position | Order | None) -> str | None:
    """An entry as the text a ``Mismatch`` carries (``None`` for absent)."""
    if entry is None:
        return None
    if isinstance(entry, Balance):
        return str(entry.wallet_balance)
    if isinstance(entry, Position):
        return f"amount={entry.amount} entry_price={entry.entry_price}"
    return f"{entry.status} executed={entry.executed_qty}/{entry.orig_qty} price={entry.price}"


def mismatch(
    kind: MismatchKind,
    finding: Finding,
    cache_entry: Balance | Position | Order | None,
    exchange_entry: Balance | Position | Order | None,
    repaired: bool,
) -> Mismatch:
    """The ``Mismatch`` record of one drift."""
    return Mismatch(
        kind=kind,
        key=display_key(finding),
        cache_value=describe(cache_entry),
        exchange_value=describe(exchange_entry),
        cache_time=cache_entry.event_time if cache_entry is not None else None,
        exchange_time=exchange_entry.event_time if exchange_entry is not None else None,
        repaired=repaired,
    )
