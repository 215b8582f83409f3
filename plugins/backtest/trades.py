"""Every trade of a backtest, written to a file as it happens, with its totals kept online:
memory does not grow with the number of trades, however long the period."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson

from framework.types import Fill

from .data import iso

ZERO = Decimal(0)
FILE = "trades.jsonl"


@dataclass(slots=True)
class Tally:
    """Running totals of a set of fills: what the report states per strategy and symbol."""

    trades: int = 0
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    volume: Decimal = ZERO
    closing: int = 0
    wins: int = 0
    won: Decimal = ZERO
    lost: Decimal = ZERO

    def add(self, fill: Fill) -> None:
        """Count one fill."""
        self.trades += 1
        pnl = fill.realized_pnl
        self.realized += pnl
        self.fees += fill.fee
        self.volume += fill.qty * fill.price
        if pnl:
            # Win rate and profit factor are over closing fills, as the daily report counts.
            self.closing += 1
            if pnl > 0:
                self.wins += 1
                self.won += pnl
            else:
                self.lost -= pnl

    def figures(self) -> dict[str, Any]:
        """The report's columns (money as exact strings)."""
        return {
            "trades": self.trades,
            "realized_pnl": str(self.realized),
            "fees": str(self.fees),
            "net_realized_pnl": str(self.realized - self.fees),
            "volume": str(self.volume),
            "closing_fills": self.closing,
            "wins": self.wins,
            "win_rate_pct": round(self.wins / self.closing * 100, 2) if self.closing else None,
            "profit_factor": round(float(self.won / self.lost), 4) if self.lost else None,
        }


def row(fill: Fill, owner: str) -> dict[str, Any]:
    """A trade as the results list it."""
    return {
        "time": iso(fill.event_time),
        "strategy": owner,
        "symbol": fill.symbol,
        "side": fill.side,
        "qty": str(fill.qty),
        "price": str(fill.price),
        "fee": str(fill.fee),
        "realized_pnl": str(fill.realized_pnl),
        "maker": fill.is_maker,
        "order_id": fill.order_id,
        "trade_id": fill.trade_id,
    }


class TradeLog:
    """Appends each trade to ``path`` (one JSON object a line) and tallies it per strategy and
    per symbol; iterating reads the trades back from the file, in the order they happened.
    The file is opened at the first trade (a run that fails to start leaves nothing open) and
    replaces any file of an earlier run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = Tally()
        self.by_owner: dict[str, Tally] = {}
        self.by_symbol: dict[str, Tally] = {}
        self.price_range: dict[str, tuple[Decimal, Decimal]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self._file: IO[bytes] | None = None
        self._closed = False

    def add(self, fill: Fill, owner: str) -> None:
        """Write one trade and count it."""
        if self._file is None:
            if self._closed:
                raise ValueError(f"{self.path}: the trade log is closed")
            self._file = self.path.open("wb")
        self._file.write(orjson.dumps(row(fill, owner)) + b"\n")
        self.total.add(fill)
        tally = self.by_owner.get(owner)
        if tally is None:
            tally = self.by_owner[owner] = Tally()
        tally.add(fill)
        tally = self.by_symbol.get(fill.symbol)
        if tally is None:
            tally = self.by_symbol[fill.symbol] = Tally()
        tally.add(fill)
        low_high = self.price_range.get(fill.symbol)
        price = fill.price
        if low_high is None:
            self.price_range[fill.symbol] = (price, price)
        elif price < low_high[0]:
            self.price_range[fill.symbol] = (price, low_high[1])
        elif price > low_high[1]:
            self.price_range[fill.symbol] = (low_high[0], price)

    def close(self) -> None:
        """Write what is buffered and close the file (the trades stay readable); a run
        without trades leaves an empty file."""
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None
        elif not self.path.exists():
            self.path.touch()

    def __len__(self) -> int:
        return self.total.trades

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._file is not None:
            self._file.flush()
        elif not self.path.exists():
            return
        with self.path.open("rb") as lines:
            for line in lines:
                yield orjson.loads(line)
