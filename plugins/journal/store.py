"""The storage interface the journal writes through and the report reads from.

``SQLiteStore`` is the default. Another database (PostgreSQL for many bots) replaces it by
implementing ``JournalStore`` and registering a factory under the entry-point group
``tradeloop.journal_stores`` (see docs/reporting.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from framework import TradeCursors, TradeloopError
from framework.errors import EXIT_USAGE

from .records import (
    BalanceRow,
    CommandRow,
    FillRow,
    KillSwitchResumeRow,
    KillSwitchRow,
    LogStatsRow,
    OrderRow,
    PluginErrorRow,
    PositionRow,
    ReconcileRow,
    Record,
    RunRow,
    SampleRow,
    StreamRow,
)


class JournalError(TradeloopError):
    """The journal cannot be opened or read (damaged, schema too new, unknown store, ...):
    a one-line error naming the file, exit 2."""

    exit_code = EXIT_USAGE


def damaged_journal(path: Path, detail: str) -> JournalError:
    """The refusal of a damaged journal file: what is wrong and how to move it aside."""
    return JournalError(
        f"journal {path} is damaged ({detail}): refused. Stop tradeloop, move it aside "
        f"(mv {path} {path}.damaged, and its -wal and -shm files if present) and start "
        "again with a new journal; docs/reporting.md says how to recover what is readable"
    )


@runtime_checkable
class JournalStore(Protocol):
    """Append-only journal storage with the queries reports need.

    Times are epoch ms. Ranges are half-open ``[start, end)`` unless a method says otherwise.
    Orders, fills, balances and positions are selected by their ``event_time``, reconciles by
    ``snapshot_time``, everything else by ``ts``.
    """

    location: str
    """Where the data lives, for messages (a path or a DSN without password)."""

    async def open(self) -> None:
        """Connect and bring the schema to the current version."""
        ...

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        ...

    async def write(self, records: Sequence[Record]) -> None:
        """Store ``records`` in one transaction; a duplicate fill or run is ignored."""
        ...

    async def schema_version(self) -> int:
        """The version of the schema in the database."""
        ...

    async def runs(self, start: int, end: int) -> list[RunRow]:
        """Runs that were alive at some time in ``[start, end)``."""
        ...

    async def orders(self, start: int, end: int) -> list[OrderRow]:
        """Order updates in the range, oldest first."""
        ...

    async def fills(self, start: int, end: int) -> list[FillRow]:
        """Fills in the range, oldest first."""
        ...

    async def last_trade_ids(self) -> dict[str, int]:
        """The highest trade id of the fills held, per symbol (``{}`` when there are none)."""
        ...

    async def trade_cursors(self) -> TradeCursors:
        """What the journal holds of the account's trades (the ``last_trade_ids`` answer):
        the trade cursor per symbol (``TradeCursorRow``: every trade up to it is held), the
        start of its first run, and the fills held after the cursors (of a symbol without a
        cursor: all of them)."""
        ...

    async def balances(self, start: int, end: int) -> list[BalanceRow]:
        """Balance rows in the range, oldest first."""
        ...

    async def balances_before(self, t: int) -> list[BalanceRow]:
        """The latest row of each asset with ``event_time < t``."""
        ...

    async def positions_before(self, t: int) -> list[PositionRow]:
        """The latest row of each (symbol, side) with ``event_time < t``."""
        ...

    async def samples(self, start: int, end: int) -> list[SampleRow]:
        """Equity samples with ``start <= ts <= end`` (a sample at midnight closes the day)."""
        ...

    async def reconciles(self, start: int, end: int) -> list[ReconcileRow]:
        """Reconcile runs whose REST snapshot was taken in the range (``snapshot_time``; a run
        that failed before its snapshot: ``ts``), with their mismatches, oldest first."""
        ...

    async def stream_states(self, start: int, end: int) -> list[StreamRow]:
        """Stream state changes in the range, oldest first."""
        ...

    async def stream_states_before(self, t: int) -> list[StreamRow]:
        """The latest state of each stream with ``ts < t``."""
        ...

    async def plugin_errors(self, start: int, end: int) -> list[PluginErrorRow]:
        """Plugin errors in the range, oldest first."""
        ...

    async def kill_switch_trips(self, start: int, end: int) -> list[KillSwitchRow]:
        """Kill-switch trips in the range, oldest first."""
        ...

    async def kill_switch_resumes(self, start: int, end: int) -> list[KillSwitchResumeRow]:
        """Kill-switch clearings (``tradeloop resume``, the operator) in the range, oldest
        first."""
        ...

    async def log_stats(self, start: int, end: int) -> list[LogStatsRow]:
        """Log-stats samples with ``start <= ts <= end``, oldest first."""
        ...

    async def log_stats_before(self, t: int) -> list[LogStatsRow]:
        """The latest log-stats sample of each run with ``ts < t``."""
        ...

    async def commands(self, start: int, end: int) -> list[CommandRow]:
        """Operator commands with ``start <= ts < end``, oldest first."""
        ...


@runtime_checkable
class StreamingJournalStore(JournalStore, Protocol):
    """A store that can also stream the large tables row by row and open a second reader.

    Optional: the daily report uses these when a store has them. ``iter_*`` yield the same
    rows as the list methods without holding a day in memory; ``reader()`` returns a new,
    unopened store on the same data that the report opens, reads and closes in a worker
    thread with its own event loop, so a large day never blocks the bot's loop.
    """

    def iter_orders(self, start: int, end: int) -> AsyncIterator[OrderRow]:
        """``orders``, one row at a time."""
        ...

    def iter_fills(self, start: int, end: int) -> AsyncIterator[FillRow]:
        """``fills``, one row at a time."""
        ...

    def iter_balances(self, start: int, end: int) -> AsyncIterator[BalanceRow]:
        """``balances``, one row at a time."""
        ...

    def reader(self) -> JournalStore:
        """A new store (not opened) reading the same data; it never writes."""
        ...
