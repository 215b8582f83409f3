"""Built-in plugin ``journal``: what the bot saw, in SQLite (or another ``JournalStore``).

See ``docs/reporting.md``. Entry point: ``journal = "plugins.journal:Journal"``.
"""

from typing import TYPE_CHECKING

from framework.lazy import lazy_exports

from .migrations import MIGRATIONS
from .plugin import Journal
from .records import (
    BalanceRow,
    FillRow,
    KillSwitchResumeRow,
    KillSwitchRow,
    LogStatsRow,
    MismatchRow,
    OrderRow,
    PluginErrorRow,
    PositionRow,
    ReconcileRow,
    Record,
    RunEnd,
    RunRow,
    RunSeen,
    SampleRow,
    StreamRow,
    TradeCursorRow,
)
from .sampler import unrealized_pnl
from .settings import JournalSettings
from .store import JournalError, JournalStore, StreamingJournalStore
from .writer import BatchWriter

if TYPE_CHECKING:
    from .factory import STORE_GROUP, journal_path, make_store
    from .sqlite_store import SQLiteStore

# the SQLite store (aiosqlite) is imported on first use, not with the CLI
__getattr__ = lazy_exports(
    __name__,
    {
        "STORE_GROUP": "factory",
        "journal_path": "factory",
        "make_store": "factory",
        "SQLiteStore": "sqlite_store",
    },
)

__all__ = [
    "MIGRATIONS",
    "STORE_GROUP",
    "BalanceRow",
    "BatchWriter",
    "FillRow",
    "Journal",
    "JournalError",
    "JournalSettings",
    "JournalStore",
    "KillSwitchResumeRow",
    "KillSwitchRow",
    "LogStatsRow",
    "MismatchRow",
    "OrderRow",
    "PluginErrorRow",
    "PositionRow",
    "ReconcileRow",
    "Record",
    "RunEnd",
    "RunRow",
    "RunSeen",
    "SQLiteStore",
    "SampleRow",
    "StreamRow",
    "StreamingJournalStore",
    "TradeCursorRow",
    "journal_path",
    "make_store",
    "unrealized_pnl",
]
