"""The in-memory intent book (a run without a state store, e.g. a backtest) stays bounded:
acknowledged orders without a named intent are forgotten past ``UNNAMED_KEPT``; named intents
and unanswered records stay."""

from __future__ import annotations

from decimal import Decimal

import pytest

from framework import intents as intents_module
from framework.intents import IntentBook
from framework.state import IntentRecord
from framework.types import OrderRequest

REQUEST = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.01"))


def _record(cid: str, intent: str | None = None) -> IntentRecord:
    return IntentRecord(
        strategy_id="s", intent=intent or cid, client_order_id=cid, request=REQUEST, created_at=0
    )


async def test_unnamed_acknowledged_records_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intents_module, "UNNAMED_KEPT", 100)
    book = IntentBook()
    named = _record("bt0-s", intent="grid-level-1")
    await book.record(named)
    await book.acknowledge(named, 1)
    pending = _record("bt-pending")
    await book.record(pending)  # no answer yet: kept whatever comes after
    for n in range(1, 351):
        record = _record(f"bt{n}-s")
        await book.record(record)
        await book.acknowledge(record, n + 1)
    assert await book.lookup("s", "bt1-s") is None  # the oldest are forgotten
    assert await book.lookup("s", "bt250-s") is None
    found = await book.lookup("s", "bt350-s")
    assert found is not None
    assert found.order_id == 351
    assert await book.lookup("s", "bt251-s") is not None
    assert await book.lookup("s", "grid-level-1") is not None
    assert await book.lookup("s", "bt-pending") is not None
    assert len(book._memory) == 100 + 2
