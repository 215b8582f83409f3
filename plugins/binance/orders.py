"""Order API: place, cancel, query by client order id; unknown outcomes resolved, never doubled.

A new order whose answer leaves its outcome unknown (timeout, connection lost, HTTP 5xx, 503
"Unknown error", -1006/-1007) is **not** sent again blindly. ``OrderService`` waits for the
order to show up, by its client order id, on the user-data stream (``on_order_event``) or in
``GET /fapi/v1/order``, and takes it only if it is the order just sent: same symbol, side,
type, quantity, price (LIMIT), time in force (LIMIT) and reduce-only flag, and not created
before the request could have reached the exchange (its ``timestamp`` minus 1 s, the most the
exchange lets a timestamp run ahead of its clock). An older order under the same id is never
taken for it. Only two "does not exist" answers in a row, at least ``not_found_spacing``
seconds apart, count as "not placed"; the order is then sent once more under the *same* id, so
the exchange itself refuses a copy of an order that is still open (-4116, then the first send
is looked for again). Anything else ends in ``UnknownOrderOutcomeError``.

A -1021 (timestamp outside ``recvWindow``: the local clock jumped, or drifted from the
exchange's) is a refusal, yet the order is not sent again on trust: once the clock is
re-measured, its client order id is looked up, and the order is sent again (under the same id)
only if the exchange answers that it does not exist; an order found is returned as placed.
This happens once per order: a second -1021 is raised (``TimestampError``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger

from framework.types import Order, OrderRequest

from .checks import rest_order_problem
from .decode import RestOrder
from .errors import (
    DUPLICATE_CLIENT_ORDER_ID,
    BinanceAPIError,
    BinanceError,
    OrderNotFoundError,
    ServerError,
    TimestampError,
    TransportError,
    UnknownOrderOutcomeError,
)
from .ids import ALLOWED, ClientOrderIds
from .rest import RestClient
from .rows import BadRow, Rows

ORDER_PATH = "/fapi/v1/order"
ALL_OPEN_ORDERS_WEIGHT = 40
DEFAULT_OWNER = "bot"
TIMESTAMP_AHEAD_MS = 1000  # the exchange refuses a timestamp this far ahead of its clock


class OrderStats(msgspec.Struct, kw_only=True):
    """Counters for the run summary."""

    placed: int = 0
    canceled: int = 0
    queried: int = 0
    unknown_outcomes: int = 0
    resolved_found: int = 0
    resolved_by_stream: int = 0
    namesakes: int = 0
    resent: int = 0
    timestamp_resent: int = 0  # sent again after a -1021, once looked up and not found
    timestamp_found: int = 0  # found after a -1021 (placed after all): not sent again
    unresolved: int = 0


def open_orders_weight(symbol: str | None) -> int:
    """Weight of ``GET /fapi/v1/openOrders``: 1 for one symbol, 40 for all (FACTS.md §1.2)."""
    return 1 if symbol else ALL_OPEN_ORDERS_WEIGHT


def fmt_decimal(value: Decimal) -> str:
    """A Decimal as Binance wants it: plain notation, no exponent."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def mismatch(request: OrderRequest, order: Order, created_ms: int, not_before_ms: int) -> str:
    """Why ``order`` is not the one sent for ``request`` ("" when it is that order).

    ``created_ms``: when the exchange made it (REST ``time``; for a stream event its event
    time, never earlier); ``not_before_ms``: the earliest it could have been made.
    """
    if order.symbol != request.symbol:
        return f"symbol {order.symbol}"
    if order.side != request.side:
        return f"side {order.side}"
    if order.type != request.type:
        return f"type {order.type}"
    if order.orig_qty != request.quantity:
        return f"quantity {order.orig_qty}, sent {request.quantity}"
    if request.type == "LIMIT":
        if order.price != request.price:
            return f"price {order.price}, sent {request.price}"
        if order.time_in_force != request.time_in_force:
            return f"time in force {order.time_in_force}"
    if order.reduce_only != request.reduce_only:
        return f"reduce-only {order.reduce_only}"
    if order.position_side != request.position_side:
        return f"position side {order.position_side}"
    if created_ms < not_before_ms:
        return f"made at {created_ms} ms, before it was sent (not before {not_before_ms} ms)"
    return ""


@dataclass(slots=True)
class _Pending:
    """One order being placed: what the stream said about its client order id so far."""

    request: OrderRequest
    client_order_id: str
    events: list[Order] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class OrderService:
    """The connector's order operations."""

    def __init__(
        self,
        rest: RestClient,
        ids: ClientOrderIds,
        *,
        resolve_attempts: int,
        not_found_spacing: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rest = rest
        self.ids = ids
        self.resolve_attempts = resolve_attempts
        self.not_found_spacing = not_found_spacing
        self._clock = clock
        self._sleep = sleep
        self.stats = OrderStats()
        self._waiting: dict[str, _Pending] = {}

    # ---------------------------------------------------------------------------- events

    def on_order_event(self, order: Order) -> None:
        """An order seen on the user-data stream: wakes up an unknown-outcome resolution."""
        self.ids.observe(order.client_order_id)
        pending = self._waiting.get(order.client_order_id)
        if pending is not None and len(pending.events) < 100:
            pending.events.append(order)
            pending.arrived.set()

    # ------------------------------------------------------------------------------ API

    async def place(self, request: OrderRequest, owner: str = DEFAULT_OWNER) -> Order:
        """Send ``request``; return the order as the exchange acknowledged it."""
        cid = request.client_order_id or self.ids.next(owner)
        if not ALLOWED.match(cid):
            raise ValueError(f"client order id {cid!r} does not match {ALLOWED.pattern}")
        params = self._params(request, cid)
        pending = _Pending(request, cid)
        self._waiting[cid] = pending
        sent_at: list[int] = []  # the timestamp of every attempt
        resent = False  # at most one resend after "not placed", one after a -1021
        timestamp_retried = False
        try:
            while True:
                try:
                    answer = await self.rest.request(
                        "POST",
                        ORDER_PATH,
                        params,
                        type=RestOrder,
                        signed=True,
                        weight=0,
                        order=True,
                        idempotent=False,
                        sent_at=sent_at,
                        decode=self.rest.one(RestOrder, rest_order_problem),
                    )
                except (ServerError, TransportError) as exc:
                    self.stats.unknown_outcomes += 1
                    logger.warning(
                        "order {} on {}: outcome unknown ({}); resolving", cid, request.symbol, exc
                    )
                    found = await self._resolve(pending, sent_at, exc)
                    if found is not None:
                        return found
                    if not resent:
                        resent = True
                        self.stats.resent += 1
                        logger.warning(
                            "order {} does not exist on the exchange; sending again", cid
                        )
                        continue
                    self.stats.unresolved += 1
                    raise UnknownOrderOutcomeError(
                        request.symbol, cid, f"not found after two sends, the last: {exc}"
                    ) from None
                except TimestampError as exc:
                    if timestamp_retried:
                        raise
                    timestamp_retried = True
                    found = await self._look_up_after_refusal(pending, sent_at, exc)
                    if found is not None:
                        self.stats.timestamp_found += 1
                        return found
                    self.stats.timestamp_resent += 1
                    continue
                except BinanceAPIError as exc:
                    if not (resent or timestamp_retried) or exc.code != DUPLICATE_CLIENT_ORDER_ID:
                        raise
                    # The first send is open on the exchange after all: look for it again.
                    logger.warning("order {}: the resend was refused as a duplicate", cid)
                    found = await self._resolve(pending, sent_at, exc)
                    if found is not None:
                        return found
                    self.stats.unresolved += 1
                    raise UnknownOrderOutcomeError(
                        request.symbol, cid, "refused as a duplicate, yet not found"
                    ) from None
                self.stats.placed += 1
                return answer.to_order(self.rest.time.now_ms())
        finally:
            self._waiting.pop(cid, None)

    async def _look_up_after_refusal(
        self, pending: _Pending, sent_at: list[int], refusal: TimestampError
    ) -> Order | None:
        """After a -1021 (the clock re-measured by then): the order just sent if the exchange
        has it after all; ``None`` when it answers that it does not exist; the refusal is
        raised again when it cannot tell (the query failed)."""
        request, cid = pending.request, pending.client_order_id
        try:
            answer = await self._query(request.symbol, cid)
        except BinanceError as exc:
            logger.warning("order {}: refused (-1021), and the look-up failed: {}", cid, exc)
            raise refusal from None
        if answer is None:
            logger.warning("order {}: refused (-1021) and not on the exchange; sending again", cid)
            return None
        not_before = min(sent_at) - TIMESTAMP_AHEAD_MS
        found = answer.to_order(self.rest.time.now_ms())
        why = mismatch(request, found, answer.time or answer.update_time, not_before)
        if why:
            self.stats.namesakes += 1
            logger.warning("order {}: the exchange's order under this id is another ({})", cid, why)
            raise refusal from None
        logger.warning("order {}: refused (-1021), yet on the exchange: taken as placed", cid)
        return found

    async def _resolve(
        self, pending: _Pending, sent_at: list[int], cause: BaseException
    ) -> Order | None:
        """The order just sent if it exists; ``None`` once two "does not exist" answers in a
        row, ``not_found_spacing`` apart, say it does not; raise if unsure."""
        request, cid = pending.request, pending.client_order_id
        not_before = (min(sent_at) if sent_at else self.rest.time.now_ms()) - TIMESTAMP_AHEAD_MS
        first_not_found: float | None = None
        for attempt in range(1, self.resolve_attempts + 1):
            delay = self.rest._backoff(attempt)
            if first_not_found is not None:
                delay = max(delay, self.not_found_spacing - (self._clock() - first_not_found))
            order = await self._from_stream(pending, not_before, delay)
            if order is not None:
                self.stats.resolved_by_stream += 1
                return order
            try:
                answer = await self._query(request.symbol, cid)
            except BinanceError as exc:  # any failed query says nothing about the order
                logger.warning("order {}: query failed ({}), will ask again", cid, exc)
                continue
            if answer is None:
                now = self._clock()
                if first_not_found is None:
                    first_not_found = now
                elif now - first_not_found >= self.not_found_spacing:
                    return None
                continue
            found = answer.to_order(self.rest.time.now_ms())
            why = mismatch(request, found, answer.time or answer.update_time, not_before)
            if not why:
                self.stats.resolved_found += 1
                return found
            self.stats.namesakes += 1
            first_not_found = None  # "not found" answers must follow each other
            logger.warning("order {}: the exchange's order under this id is another ({})", cid, why)
        self.stats.unresolved += 1
        raise UnknownOrderOutcomeError(request.symbol, cid, str(cause))

    async def _from_stream(self, pending: _Pending, not_before: int, wait: float) -> Order | None:
        """The order just sent, if the stream shows it within ``wait`` seconds."""
        sleeper = asyncio.ensure_future(self._sleep(wait))
        try:
            while True:
                for order in pending.events:
                    if not mismatch(pending.request, order, order.event_time, not_before):
                        return order
                pending.events.clear()
                if sleeper.done():
                    return None
                pending.arrived.clear()
                woke = asyncio.ensure_future(pending.arrived.wait())
                try:
                    await asyncio.wait((woke, sleeper), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    woke.cancel()
        finally:
            sleeper.cancel()

    async def _query(self, symbol: str, client_order_id: str) -> RestOrder | None:
        self.stats.queried += 1
        try:
            answer = await self.rest.request(
                "GET",
                ORDER_PATH,
                {"symbol": symbol, "origClientOrderId": client_order_id},
                type=RestOrder,
                signed=True,
                decode=self.rest.one(RestOrder, rest_order_problem),
            )
        except OrderNotFoundError:
            return None
        self.ids.observe(answer.client_order_id)
        return answer

    async def query(self, symbol: str, client_order_id: str) -> Order | None:
        """``GET /fapi/v1/order`` by client order id; ``None`` if the exchange does not know it."""
        answer = await self._query(symbol, client_order_id)
        return None if answer is None else answer.to_order(self.rest.time.now_ms())

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        """``DELETE /fapi/v1/order``; an order already gone is returned as the exchange has it."""
        try:
            answer = await self.rest.request(
                "DELETE",
                ORDER_PATH,
                {"symbol": symbol, "origClientOrderId": client_order_id},
                type=RestOrder,
                signed=True,
                decode=self.rest.one(RestOrder, rest_order_problem),
            )
        except OrderNotFoundError:
            # A retried cancel whose first attempt went through, or an order that filled.
            existing = await self.query(symbol, client_order_id)
            if existing is None:
                raise
            return existing
        self.stats.canceled += 1
        return answer.to_order(self.rest.time.now_ms())

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """``GET /fapi/v1/openOrders`` of one symbol (weight 1) or of every symbol (weight 40);
        entries holding an insane value are dropped (and counted)."""
        orders, _ = await self.open_order_rows(symbol)
        return orders

    async def open_order_rows(self, symbol: str | None = None) -> tuple[list[Order], list[BadRow]]:
        """``open_orders``, and the entries that were dropped (what could be read of them)."""
        path = "/fapi/v1/openOrders"
        rows = await self.rest.request(
            "GET",
            path,
            {"symbol": symbol} if symbol else None,
            type=Rows[RestOrder],
            signed=True,
            weight=open_orders_weight(symbol),
            decode=self.rest.rows(RestOrder, rest_order_problem),
        )
        now = self.rest.time.now_ms()
        orders = [row.to_order(now) for row in rows.good]
        for order in orders:
            self.ids.observe(order.client_order_id)
        return orders, rows.bad

    @staticmethod
    def _params(request: OrderRequest, cid: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "symbol": request.symbol,
            "side": request.side,
            "type": request.type,
            "quantity": fmt_decimal(request.quantity),
        }
        if request.type == "LIMIT":
            if request.price is None:
                raise ValueError("a LIMIT order needs a price")
            params["price"] = fmt_decimal(request.price)
            params["timeInForce"] = request.time_in_force
        if request.position_side != "BOTH":
            if request.reduce_only:
                raise ValueError(
                    "a hedge-mode order (position side "
                    f"{request.position_side}) cannot be reduce-only: close with the side "
                    "opposite the position instead"
                )
            params["positionSide"] = request.position_side
        elif request.reduce_only:
            params["reduceOnly"] = True
        params["newClientOrderId"] = cid
        params["newOrderRespType"] = "RESULT"
        return params
