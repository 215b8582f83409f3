"""The ``plugins.journal`` settings block."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]


class JournalSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the journal lives, how it batches writes and how often it samples the account."""

    store: str = "sqlite"
    """``sqlite``, or the name of a store registered under ``tradeloop.journal_stores``."""
    path: str = ""
    """The SQLite file; empty means ``<runtime.data_dir>/journal.sqlite3``."""
    flush_interval: PositiveSeconds = 0.5
    """Write what was recorded at most this long ago (seconds); also on stop."""
    batch_size: Annotated[int, msgspec.Meta(ge=1)] = 500
    """Write at once when this many records are pending."""
    max_pending: Annotated[int, msgspec.Meta(ge=1)] = 200_000
    """Records kept while the database is unreachable; beyond, the oldest are dropped (logged)."""
    sample_every: PositiveSeconds = 300.0
    """Seconds between equity samples (balances, positions, marks, log stats)."""
    equity_asset: str = "USDT"
    """Equity is this asset's wallet balance plus the unrealized PnL of every position."""
    snapshot_at_start: bool = True
    """Record a REST account snapshot at start while the cache has no balance yet."""
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """SQLite ``synchronous``: NORMAL survives a process kill in WAL mode, FULL a power cut."""
