"""The journal as the core's ``StateStore``: strategy state and order intents in its tables,
and its fills (flushed first) for attributing positions to strategy instances."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from framework.state import IntentRecord, OwnedFill, StateStore


class JournalState:
    """``framework.state.StateStore`` over a journal store that implements it."""

    def __init__(self, store: StateStore, flush: Callable[[], Awaitable[None]]) -> None:
        self._store = store
        self._flush = flush
        self.location = store.location

    async def load_states(self) -> dict[str, dict[str, Any]]:
        """Every saved strategy state."""
        return await self._store.load_states()

    async def save_state(self, strategy_id: str, data: bytes, at: int) -> None:
        """Replace one strategy's state; committed when this returns."""
        await self._store.save_state(strategy_id, data, at)

    async def intent(self, strategy_id: str, intent: str) -> IntentRecord | None:
        """One recorded intent, or ``None``."""
        return await self._store.intent(strategy_id, intent)

    async def record_intent(self, record: IntentRecord) -> None:
        """Record an intent; committed when this returns."""
        await self._store.record_intent(record)

    async def acknowledge_intent(self, client_order_id: str, order_id: int | None) -> None:
        """The exchange's order id, or forget an order it never got."""
        await self._store.acknowledge_intent(client_order_id, order_id)

    async def unacknowledged(self) -> list[IntentRecord]:
        """Intents whose outcome no run learnt."""
        return await self._store.unacknowledged()

    async def owned_fills(self) -> list[OwnedFill]:
        """Every fill recorded so far (the pending ones written first), with its order's
        client order id."""
        await self._flush()
        return await self._store.owned_fills()
