"""A small journal written through the real SQLiteStore: a crashed run and a clean one on
2024-05-01, with fills, samples, a stale stream and plugin errors (for the CLI, catch-up and
HTML tests, which need a journal on disk but not a whole simulated day)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from plugins.journal import (
    BalanceRow,
    FillRow,
    LogStatsRow,
    PluginErrorRow,
    PositionRow,
    RunEnd,
    RunRow,
    SampleRow,
    SQLiteStore,
    StreamRow,
)
from tests.reporting_support import DAY_START

START = int(DAY_START * 1000)
HOUR = 3_600_000
D = Decimal


def fill(trade_id: int, at: int, side: str, qty: str, price: str, pnl: str, run: str) -> FillRow:
    fee = (D(price) * D(qty) * D("0.0004")).quantize(D("0.00000001"))
    return FillRow(
        ts=at,
        run_id=run,
        symbol="BTCUSDT",
        order_id=trade_id,
        trade_id=trade_id,
        client_order_id=f"c{trade_id}",
        side=side,
        price=D(price),
        qty=D(qty),
        fee=fee,
        fee_asset="USDT",
        realized_pnl=D(pnl),
        is_maker=False,
        event_time=at,
    )


async def write_journal(path: Path) -> None:
    """Run ``a`` dies at 06:00 (last seen then); run ``b`` starts at 07:00, stops at 23:00."""
    store = SQLiteStore(path)
    await store.open()
    a, b = "a" * 16, "b" * 16
    equity = [D("10000"), D("10004.2"), D("9998.7"), D("10011.3"), D("10007.9"), D("10020.4")]
    try:
        await store.write(
            [
                RunRow(run_id=a, started_at=START - HOUR, last_seen=START + 6 * HOUR),
                RunRow(run_id=b, started_at=START + 7 * HOUR),
                BalanceRow(
                    ts=START - HOUR,
                    run_id=a,
                    asset="USDT",
                    wallet_balance=D("10000"),
                    cross_wallet_balance=D("10000"),
                    available_balance=None,
                    event_time=START - HOUR,
                ),
                fill(1, START + HOUR, "BUY", "0.010", "60000", "0", a),
                fill(2, START + 8 * HOUR, "SELL", "0.005", "61000", "5", b),
                BalanceRow(
                    ts=START + 8 * HOUR,
                    run_id=b,
                    asset="USDT",
                    wallet_balance=D("10004.514"),
                    cross_wallet_balance=D("10004.514"),
                    available_balance=None,
                    event_time=START + 8 * HOUR,
                ),
                PositionRow(
                    ts=START + 8 * HOUR,
                    run_id=b,
                    symbol="BTCUSDT",
                    side="BOTH",
                    amount=D("0.005"),
                    entry_price=D("60000"),
                    unrealized_pnl=D("5"),
                    event_time=START + 8 * HOUR,
                ),
                *[
                    SampleRow(
                        ts=START + i * 4 * HOUR,
                        run_id=a if i < 2 else b,
                        asset="USDT",
                        wallet=value,
                        unrealized=D(0),
                        equity=value,
                        marks={"BTCUSDT": D("62000")},
                    )
                    for i, value in enumerate(equity)
                ],
                StreamRow(
                    ts=START + 2 * HOUR,
                    run_id=a,
                    stream="market",
                    state="stale",
                    reason="no data for 60 s",
                    needs_resync=False,
                ),
                StreamRow(
                    ts=START + 2 * HOUR + 90_000,
                    run_id=a,
                    stream="market",
                    state="connected",
                    reason="",
                    needs_resync=True,
                ),
                StreamRow(
                    ts=START + 5 * HOUR,
                    run_id=a,
                    stream="user_data",
                    state="disconnected",
                    reason="closed by server (code 1006)",
                    needs_resync=False,
                ),
                PluginErrorRow(
                    ts=START + 9 * HOUR,
                    run_id=b,
                    plugin="alerts",
                    hook="on_fill",
                    error="ValueError: bad <input>",
                    consecutive_failures=1,
                    disabled=False,
                ),
                LogStatsRow(
                    ts=START - HOUR,
                    run_id=a,
                    emitted=100,
                    suppressed=10,
                    aggregated_lines=1,
                    sink_errors=0,
                    top_suppressed={"k": 10},
                ),
                LogStatsRow(
                    ts=START + 6 * HOUR,
                    run_id=a,
                    emitted=130,
                    suppressed=25,
                    aggregated_lines=3,
                    sink_errors=0,
                    top_suppressed={"k": 20, "j": 5},
                ),
                LogStatsRow(
                    ts=START + 20 * HOUR,
                    run_id=b,
                    emitted=40,
                    suppressed=2,
                    aggregated_lines=1,
                    sink_errors=1,
                    top_suppressed={"j": 2},
                ),
                RunEnd(run_id=b, stopped_at=START + 23 * HOUR, stop_reason="signal SIGTERM"),
            ]
        )
    finally:
        await store.close()
