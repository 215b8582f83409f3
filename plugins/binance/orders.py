"""Order API: place, cancel, query by client order id; unknown outcomes resolved, never doubled.

A new order whose answer leaves its outcome unknown (timeout, connection lost, HTTP 5xx, 503
"Unknown error", -1006/-1007) is **not** sent again blindly. ``OrderService`` first waits for the
order to show up, by its client order id, either on the user-data stream (``on_order_event``)
or in ``GET /fapi/v1/order``. Only when several queries, spaced by backoff, agree that the order
does not exist is it sent again, under the *same* client order id, so the exchange itself
rejects a copy of an order that is still open.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger

from framework.types import Order, OrderRequest

from .decode import RestOrder
from .errors import (
    OrderNotFoundError,
    RateLimitWaitTooLong,
    ServerError,
    TransportError,
    UnknownOrderOutcomeError,
)
from .ids import ALLOWED, ClientOrderIds
from .rest import RestClient

ORDER_PATH = "/fapi/v1/order"
ALL_OPEN_ORDERS_WEIGHT = 40
DEFAULT_OWNER = "bot"


class OrderStats(msgspec.Struct, kw_only=True):
    """Counters for the run summary."""

    placed: int = 0
    canceled: int = 0
    queried: int = 0
    unknown_outcomes: int = 0
    resolved_found: int = 0
    resolved_by_stream: int = 0
    resent: int = 0
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


class OrderService:
    """The connector's order operations."""

    def __init__(self, rest: RestClient, ids: ClientOrderIds, *, resolve_attempts: int) -> None:
        self.rest = rest
        self.ids = ids
        self.resolve_attempts = resolve_attempts
        self.stats = OrderStats()
        self._waiting: dict[str, asyncio.Future[Order]] = {}

    # ---------------------------------------------------------------------------- events

    def on_order_event(self, order: Order) -> None:
        """An order seen on the user-data stream: wakes up an unknown-outcome resolution."""
        self.ids.observe(order.client_order_id)
        waiter = self._waiting.get(order.client_order_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(order)

    # ------------------------------------------------------------------------------ API

    async def place(self, request: OrderRequest, owner: str = DEFAULT_OWNER) -> Order:
        """Send ``request``; return the order as the exchange acknowledged it."""
        cid = request.client_order_id or self.ids.next(owner)
        if not ALLOWED.match(cid):
            raise ValueError(f"client order id {cid!r} does not match {ALLOWED.pattern}")
        params = self._params(request, cid)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Order] = loop.create_future()
        self._waiting[cid] = waiter
        try:
            for sent in range(2):  # the first send, and at most one resend after "not found"
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
                    )
                except (ServerError, TransportError) as exc:
                    self.stats.unknown_outcomes += 1
                    logger.warning(
                        "order {} on {}: outcome unknown ({}); resolving", cid, request.symbol, exc
                    )
                    found = await self._resolve(request.symbol, cid, waiter, exc)
                    if found is not None:
                        return found
                    if sent == 0:
                        self.stats.resent += 1
                        logger.warning(
                            "order {} does not exist on the exchange; sending again", cid
                        )
                        continue
                    self.stats.unresolved += 1
                    raise UnknownOrderOutcomeError(request.symbol, cid, str(exc)) from None
                self.stats.placed += 1
                return answer.to_order(self.rest.time.now_ms())
            raise UnknownOrderOutcomeError(request.symbol, cid, "resend failed")
        finally:
            self._waiting.pop(cid, None)

    async def _resolve(
        self, symbol: str, cid: str, waiter: asyncio.Future[Order], cause: BaseException
    ) -> Order | None:
        """The order if it exists; ``None`` if every query says it does not; raise if unsure."""
        not_found = 0
        for attempt in range(1, self.resolve_attempts + 1):
            delay = self.rest._backoff(attempt)
            try:
                async with asyncio.timeout(delay):
                    order = await asyncio.shield(waiter)
                self.stats.resolved_by_stream += 1
                return order
            except TimeoutError:
                pass
            try:
                found = await self.query(symbol, cid)
            except (ServerError, TransportError, RateLimitWaitTooLong) as exc:
                logger.warning("order {}: query failed ({}), will ask again", cid, exc)
                continue
            if found is not None:
                self.stats.resolved_found += 1
                return found
            not_found += 1
            if not_found >= 2:
                return None
        if not_found:
            return None
        self.stats.unresolved += 1
        raise UnknownOrderOutcomeError(symbol, cid, str(cause))

    async def query(self, symbol: str, client_order_id: str) -> Order | None:
        """``GET /fapi/v1/order`` by client order id; ``None`` if the exchange does not know it."""
        self.stats.queried += 1
        try:
            answer = await self.rest.request(
                "GET",
                ORDER_PATH,
                {"symbol": symbol, "origClientOrderId": client_order_id},
                type=RestOrder,
                signed=True,
            )
        except OrderNotFoundError:
            return None
        self.ids.observe(answer.client_order_id)
        return answer.to_order(self.rest.time.now_ms())

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        """``DELETE /fapi/v1/order``; an order already gone is returned as the exchange has it."""
        try:
            answer = await self.rest.request(
                "DELETE",
                ORDER_PATH,
                {"symbol": symbol, "origClientOrderId": client_order_id},
                type=RestOrder,
                signed=True,
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
        """``GET /fapi/v1/openOrders`` of one symbol (weight 1) or of every symbol (weight 40)."""
        rows = await self.rest.request(
            "GET",
            "/fapi/v1/openOrders",
            {"symbol": symbol} if symbol else None,
            type=list[RestOrder],
            signed=True,
            weight=open_orders_weight(symbol),
        )
        now = self.rest.time.now_ms()
        orders = [row.to_order(now) for row in rows]
        for order in orders:
            self.ids.observe(order.client_order_id)
        return orders

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
        if request.reduce_only:
            params["reduceOnly"] = True
        params["newClientOrderId"] = cid
        params["newOrderRespType"] = "RESULT"
        return params
