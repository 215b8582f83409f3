"""The ``plugins.journal`` settings block."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from framework.setting_types import DAY, MINUTE, Asset


class JournalSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the journal lives, how it batches writes and how often it samples the account."""

    store: str = "sqlite"
    """``sqlite``, or the name of a store registered under ``tradeloop.journal_stores``."""
    path: str = ""
    """The SQLite file; empty means ``<runtime.data_dir>/journal-<venue>.sqlite3`` (venue ``sim``,
    ``testnet`` or ``live``: journals are kept apart per venue)."""
    flush_interval: Annotated[float, msgspec.Meta(ge=0.01, le=MINUTE)] = 0.5
    """Write what was recorded at most this long ago (seconds); also on stop."""
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 500
    """Write at once when this many records are pending."""
    max_pending: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)] = 200_000
    """Records kept while the database is unreachable; beyond, the oldest are dropped (logged)."""
    sample_every: Annotated[float, msgspec.Meta(ge=1, le=DAY)] = 300.0
    """Seconds between equity samples (balances, positions, marks, log stats)."""
    heartbeat_every: Annotated[float, msgspec.Meta(ge=0.1, le=300)] = 5.0
    """Seconds between updates of the run's ``last_seen``: a crashed run's uptime is known
    to within this (one row updated per heartbeat, batched with the other writes)."""
    check_at_open: bool = True
    """Run SQLite's ``quick_check`` when the journal opens and refuse a damaged file (reads
    the whole file once: about a second per GB)."""
    equity_asset: Asset = "USDT"
    """Equity is this asset's wallet balance plus the unrealized PnL of every position."""
    snapshot_at_start: bool = True
    """Record a REST account snapshot at start while the cache has no balance yet."""
    strategy_state: bool = True
    """Keep strategy state and order intents in the journal, so they survive a restart
    (``false``: in memory for the run only; a backtest runs so, since it never restarts and
    must not wait on the disk between two prices)."""
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """SQLite ``synchronous``: NORMAL survives a process kill in WAL mode, FULL a power cut."""
