"""Trades as CSV: one row per fill, every digit kept (for a spreadsheet or a tax tool)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from plugins.journal import FillRow

from .journal_cli import iso
from .performance import strategy_of

HEADER = (
    "time_utc",
    "strategy",
    "symbol",
    "side",
    "quantity",
    "price",
    "notional",
    "fee",
    "fee_asset",
    "realized_pnl",
    "maker",
    "order_id",
    "trade_id",
    "client_order_id",
)


def plain(value: Decimal) -> str:
    """A decimal as plain digits (never ``0E-8``)."""
    return f"{value:f}"


def row(fill: FillRow) -> tuple[str, ...]:
    """One fill as CSV cells."""
    return (
        iso(fill.event_time),
        strategy_of(fill.client_order_id),
        fill.symbol,
        fill.side,
        plain(fill.qty),
        plain(fill.price),
        plain(fill.qty * fill.price),
        plain(fill.fee),
        fill.fee_asset,
        plain(fill.realized_pnl),
        "true" if fill.is_maker else "false",
        str(fill.order_id),
        str(fill.trade_id),
        fill.client_order_id,
    )


def write_trades_csv(fills: Iterable[FillRow], path: str | Path) -> int:
    """Write ``fills`` (header first) to ``path`` atomically; returns how many (blocking)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    count = 0
    with tmp.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for fill in fills:
            writer.writerow(row(fill))
            count += 1
    os.replace(tmp, target)
    return count
