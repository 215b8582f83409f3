"""The small journal of ``journal_data`` plus the trades of two strategies over two days, written
through the real SQLiteStore (for the trader's figures, the period report and the commands)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from plugins.journal import FillRow, SQLiteStore
from tests.daily_report.journal_data import HOUR, START, write_journal

D = Decimal
DAY_MS = 24 * HOUR


def trade(
    n: int, at: int, owner: str, symbol: str, side: str, qty: str, price: str, pnl: str
) -> FillRow:
    """A fill of an order placed by ``owner`` (client order id ``tl-<owner>-<run>-<n>``)."""
    return FillRow(
        ts=at,
        run_id="b" * 16,
        symbol=symbol,
        order_id=100 + n,
        trade_id=100 + n,
        client_order_id=f"tl-{owner}-mi9k2x1c-{n:x}",
        side=side,
        price=D(price),
        qty=D(qty),
        fee=D("0.10"),
        fee_asset="USDT",
        realized_pnl=D(pnl),
        is_maker=False,
        event_time=at,
    )


# grid1 trades BTCUSDT (as does the hand-placed "c1"/"c2" of journal_data): one win, one loss;
# trend1 trades ETHUSDT only: one loss; the last trade is on the next day.
TRADES = (
    trade(1, START + 9 * HOUR, "grid1", "BTCUSDT", "BUY", "0.010", "61000", "0"),
    trade(2, START + 10 * HOUR, "grid1", "BTCUSDT", "SELL", "0.005", "63000", "10"),
    trade(3, START + 11 * HOUR, "grid1", "BTCUSDT", "SELL", "0.005", "60200", "-4"),
    trade(4, START + 12 * HOUR, "trend1", "ETHUSDT", "BUY", "1.0", "3000", "0"),
    trade(5, START + 13 * HOUR, "trend1", "ETHUSDT", "SELL", "1.0", "2994", "-6"),
    trade(6, START + DAY_MS + HOUR, "trend1", "ETHUSDT", "BUY", "0.5", "2990.55", "0"),
)


async def write_trader_journal(path: Path) -> None:
    """``write_journal`` plus ``TRADES``."""
    await write_journal(path)
    store = SQLiteStore(path)
    await store.open()
    try:
        await store.write(list(TRADES))
    finally:
        await store.close()
