"""Helpers for the status tests: fixed snapshots, a fake terminal, ANSI stripping."""

from __future__ import annotations

import io
import re
from decimal import Decimal

from plugins.status import (
    BalanceRow,
    PositionRow,
    ReconcileInfo,
    StatusSnapshot,
    StrategyRow,
    StreamRow,
)

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\r")
T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC, the ManualClock's default start


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return True


def plain(text: str) -> str:
    """``text`` without ANSI escape sequences (colours, cursor moves)."""
    return ANSI.sub("", text)


def sample_snapshot(**changes: object) -> StatusSnapshot:
    """A busy bot: one long position marked to a tick, fills, a reconcile, two streams."""
    values: dict[str, object] = {
        "at": T0 + 3725,
        "uptime_s": 3725.0,
        "exchange": "binance_futures",
        "positions": (
            PositionRow(
                symbol="BTCUSDT",
                side="BOTH",
                amount=Decimal("0.010"),
                entry_price=Decimal("43000.10"),
                mark_price=Decimal("43012.35"),
                unrealized_pnl=Decimal("0.1225"),
            ),
        ),
        "unrealized_pnl": Decimal("0.1225"),
        "realized_pnl": Decimal("-0.35"),
        "fees": (("USDT", Decimal("0.34404")),),
        "fills": 2,
        "balances": (
            BalanceRow(
                asset="USDT",
                wallet_balance=Decimal("9999.30596"),
                available_balance=Decimal("9977.8"),
            ),
        ),
        "open_orders": 1,
        "equity": Decimal("9999.42846"),
        "strategies": (
            StrategyRow(strategy="grid1", state="running"),
            StrategyRow(strategy="trend1", state="paused", reason="ValueError: bad signal"),
        ),
        "reconcile": ReconcileInfo(
            at=T0 + 3713,
            status="warning",
            mismatches=1,
            repaired=1,
            reason="schedule",
            error="",
            runs=5,
            mismatches_total=2,
        ),
        "reconciliation_enabled": True,
        "streams": (
            StreamRow(stream="market", state="connected", since=T0 + 5, reconnects=0),
            StreamRow(
                stream="user_data",
                state="connected",
                since=T0 + 3600,
                reconnects=1,
                needs_resync=True,
            ),
        ),
        "ticks_per_s": 9.84,
        "account_events_per_s": 0.2,
    }
    values.update(changes)
    return StatusSnapshot(**values)  # type: ignore[arg-type]
