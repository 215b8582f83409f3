"""Candle and trade files in the layout of Binance's public data archive, read as streams.

Files are named as the archive names them: ``BTCUSDT-1m-2026-01-01.csv`` (one day),
``BTCUSDT-1m-2026-01.csv`` (one month), ``BTCUSDT-aggTrades-2026-01-01.csv``, each as ``.csv``
or ``.zip``. Kline columns: open time, open, high, low, close, volume, close time, quote
volume, trades, taker buy volume, taker buy quote volume, ignore (the header row Binance added
in 2022 is optional). aggTrades columns: id, price, quantity, first id, last id, time,
buyer is maker. Times in ms (microseconds, as in Binance's newer spot files, are converted).
"""

from __future__ import annotations

import calendar
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from framework.errors import EXIT_USAGE, TradeloopError
from framework.types import Candle

DAY_MS = 86_400_000
INTERVAL_MS: dict[str, int] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": DAY_MS,
}
"""Intervals a data folder may hold (and ``history`` may aggregate to)."""
TRADES = "aggTrades"
_NAME = re.compile(r"^([A-Z0-9]+)-([0-9a-zA-Z]+)-(\d{4})-(\d{2})(?:-(\d{2}))?\.(csv|zip)$")
_MICROSECONDS = 10**14  # a time above this is in microseconds


class DataError(TradeloopError):
    """The data folder cannot serve the backtest: no data, overlapping files, a bad row."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing data of one symbol: nothing from ``start_ms`` (inclusive) to ``end_ms``."""

    symbol: str
    start_ms: int
    end_ms: int

    def describe(self) -> str:
        """``BTCUSDT: no data from ... to ... (N min)``."""
        minutes = (self.end_ms - self.start_ms) // 60_000
        span = f"from {iso(self.start_ms)} to {iso(self.end_ms)}"
        return f"{self.symbol}: no data {span} ({minutes} min)"


def iso(ms: int) -> str:
    """A UTC time in ISO form, to the minute (seconds or ms when not on one)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    spec = "minutes" if ms % 60_000 == 0 else "seconds" if ms % 1000 == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def kline_name(symbol: str, interval: str, day: date) -> str:
    """The archive's name of one day of klines (``BTCUSDT-1m-2026-01-01.csv``)."""
    return f"{symbol}-{interval}-{day.isoformat()}.csv"


def trades_name(symbol: str, day: date) -> str:
    """The archive's name of one day of aggTrades."""
    return f"{symbol}-{TRADES}-{day.isoformat()}.csv"


def day_of(ms: int) -> date:
    """The UTC day of a time in ms."""
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def day_start(day: date) -> int:
    """The first ms of a UTC day."""
    return calendar.timegm(day.timetuple()) * 1000


def days(start_ms: int, end_ms: int) -> list[date]:
    """The UTC days touching ``[start_ms, end_ms)``."""
    first, last = day_of(start_ms), day_of(end_ms - 1)
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def index_folder(folder: Path, kind: str) -> dict[str, dict[date, Path]]:
    """Per symbol, the file that holds each day of ``kind`` (an interval or ``aggTrades``).

    ``DataError`` when two files hold the same day (a ``.csv`` and its ``.zip``, or a month
    file and a day file of that month), naming both.
    """
    out: dict[str, dict[date, Path]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.iterdir()):
        found = _NAME.match(path.name)
        if found is None or found.group(2) != kind:
            continue
        symbol, year, month, day_text = found.group(1), *map(found.group, (3, 4, 5))
        y, m = int(year), int(month)
        if day_text is not None:
            covered = [date(y, m, int(day_text))]
        else:
            covered = [date(y, m, d) for d in range(1, calendar.monthrange(y, m)[1] + 1)]
        by_day = out.setdefault(symbol, {})
        for day in covered:
            other = by_day.get(day)
            if other is not None:
                raise DataError(
                    f"{symbol}: overlapping files for {day.isoformat()}: {other.name} and "
                    f"{path.name} (keep one)"
                )
            by_day[day] = path
    return out


def _lines(path: Path) -> Iterator[list[str]]:
    """The rows of a ``.csv`` (or the one CSV inside a ``.zip``), header row skipped."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.endswith(".csv")]
            if len(members) != 1:
                raise DataError(f"{path}: expected one CSV file inside, found {len(members)}")
            with archive.open(members[0]) as raw:
                yield from _rows(io.TextIOWrapper(raw, encoding="ascii", newline=""))
        return
    with path.open(encoding="ascii", newline="") as handle:
        yield from _rows(handle)


def _rows(handle: io.TextIOBase) -> Iterator[list[str]]:
    for row in csv.reader(handle):
        if not row or not row[0][:1].isdigit():
            continue  # blank, or the header row
        yield row


def _ms(text: str) -> int:
    value = int(text)
    return value // 1000 if value >= _MICROSECONDS else value


def _bad(path: Path, row: list[str], why: str) -> DataError:
    return DataError(f"{path.name}: unreadable row {','.join(row)[:120]!r}: {why}")


KlineRow = tuple[int, Decimal, Decimal, Decimal, Decimal]
"""Open time (ms), open, high, low, close."""


def read_klines(path: Path) -> Iterator[KlineRow]:
    """The candles of one file, as they are in it."""
    for row in _lines(path):
        try:
            yield (
                _ms(row[0]),
                Decimal(row[1]),
                Decimal(row[2]),
                Decimal(row[3]),
                Decimal(row[4]),
            )
        except (IndexError, ArithmeticError, ValueError) as exc:
            raise _bad(path, row, str(exc) or type(exc).__name__) from None


def read_full_klines(path: Path, symbol: str, interval: str) -> Iterator[Candle]:
    """The candles of one file as ``Candle`` values (volumes and trade counts too)."""
    step = INTERVAL_MS[interval]
    for row in _lines(path):
        try:
            open_time = _ms(row[0])
            yield Candle(
                symbol=symbol,
                interval=interval,
                open_time=open_time,
                close_time=open_time + step - 1,
                open=Decimal(row[1]),
                high=Decimal(row[2]),
                low=Decimal(row[3]),
                close=Decimal(row[4]),
                volume=Decimal(row[5]),
                quote_volume=Decimal(row[7]),
                trades=int(row[8]),
                closed=True,
            )
        except (IndexError, ArithmeticError, ValueError) as exc:
            raise _bad(path, row, str(exc) or type(exc).__name__) from None


TradeRow = tuple[int, Decimal]
"""Time (ms), price."""


def read_trades(path: Path) -> Iterator[TradeRow]:
    """The aggregated trades of one file: (time, price)."""
    for row in _lines(path):
        try:
            yield _ms(row[5]), Decimal(row[1])
        except (IndexError, ArithmeticError, ValueError) as exc:
            raise _bad(path, row, str(exc) or type(exc).__name__) from None
