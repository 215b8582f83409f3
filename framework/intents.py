"""The core's book of strategy orders and their intents, on the published ``StateStore``.

Every order a strategy places is recorded here before it is sent: under the intent the
strategy named, or under its client order id. Placing an intent that is already in the book
sends nothing: the order recorded for it is looked up on the exchange instead (and, if the
exchange never got it, sent then under the same client order id). At start, records whose
outcome no run learnt (the bot died between recording and the exchange's answer) are looked up
on the exchange by client order id, so their orders are known and attributed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from loguru import logger

from framework.state import IntentRecord, StateStore
from framework.types import Order

NOT_FOUND_RECHECK = 1.0
"""Seconds between the two "not found" answers that count an unanswered order as never
placed (an order in flight when the last run died may still be on its way)."""

QueryOrder = Callable[[str, str], Awaitable[Order | None]]
UNNAMED_KEPT = 10_000
"""Acknowledged records without a named intent (the intent is the client order id) the book
keeps in memory; older ones are forgotten, as the cache forgets old closed orders, so a run
without a state store (a backtest) does not grow with the number of orders. Named intents
are kept for the whole run."""


class IntentBook:
    """Intents and their orders: in the state store, or in memory (this run) without one."""

    def __init__(self, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.store: StateStore | None = None
        self._memory: dict[tuple[str, str], IntentRecord] = {}
        self._unnamed: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._sleep = sleep
        self.stats = {"recorded": 0, "replayed": 0, "recovered": 0, "never_sent": 0}

    def lock(self, strategy_id: str, intent: str) -> asyncio.Lock:
        """One placement of an intent at a time (a second waits, then finds the first)."""
        return self._locks.setdefault((strategy_id, intent), asyncio.Lock())

    def release(self, strategy_id: str, intent: str) -> None:
        """Forget the intent's lock once nobody holds or waits for it."""
        lock = self._locks.get((strategy_id, intent))
        if lock is not None and not lock.locked():
            del self._locks[(strategy_id, intent)]

    async def lookup(self, strategy_id: str, intent: str) -> IntentRecord | None:
        """The record of ``intent``, if the instance placed it before."""
        if self.store is not None:
            return await self.store.intent(strategy_id, intent)
        return self._memory.get((strategy_id, intent))

    async def record(self, record: IntentRecord) -> None:
        """Record before sending: durably in the store, else in memory for this run."""
        if self.store is not None:
            await self.store.record_intent(record)
        else:
            self._memory[(record.strategy_id, record.intent)] = record
        self.stats["recorded"] += 1

    async def acknowledge(self, record: IntentRecord, order_id: int | None) -> None:
        """The exchange has the order, or (``None``) never got it: the record is dropped."""
        if self.store is not None:
            await self.store.acknowledge_intent(record.client_order_id, order_id)
            return
        key = (record.strategy_id, record.intent)
        if order_id is None:
            self._memory.pop(key, None)
            return
        self._memory[key] = msgspec.structs.replace(record, order_id=order_id)
        if record.intent == record.client_order_id:
            unnamed = self._unnamed
            unnamed[key] = None
            while len(unnamed) > UNNAMED_KEPT:
                gone, _ = unnamed.popitem(last=False)
                self._memory.pop(gone, None)

    async def find(self, record: IntentRecord, query: QueryOrder) -> Order | None:
        """The record's order on the exchange; ``None`` only after two "not found" answers
        ``NOT_FOUND_RECHECK`` seconds apart."""
        symbol, cid = record.request.symbol, record.client_order_id
        order = await query(symbol, cid)
        if order is None:
            await self._sleep(NOT_FOUND_RECHECK)
            order = await query(symbol, cid)
        return order

    async def recover(self, query: QueryOrder) -> list[Order]:
        """Look up every record earlier runs left without an answer; acknowledge what the
        exchange has, drop what it never got. The orders found, for the cache."""
        if self.store is None:
            return []
        found: list[Order] = []
        for record in await self.store.unacknowledged():
            try:
                order = await self.find(record, query)
            except Exception as exc:  # noqa: BLE001 - kept for the next start, or a replay
                logger.warning(
                    "order {} of strategy {!r} (intent {!r}) could not be looked up: {}",
                    record.client_order_id,
                    record.strategy_id,
                    record.intent,
                    exc,
                )
                continue
            await self.acknowledge(record, None if order is None else order.order_id)
            if order is None:
                self.stats["never_sent"] += 1
                logger.info(
                    "order {} of strategy {!r} (intent {!r}) never reached the exchange",
                    record.client_order_id,
                    record.strategy_id,
                    record.intent,
                )
            else:
                self.stats["recovered"] += 1
                found.append(order)
                logger.info(
                    "order {} of strategy {!r} (intent {!r}) found on the exchange: {}",
                    record.client_order_id,
                    record.strategy_id,
                    record.intent,
                    order.status,
                )
        return found
