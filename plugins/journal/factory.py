"""Which ``JournalStore`` a configuration asks for, and where the SQLite file lives."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from framework import Settings

from .settings import JournalSettings
from .sqlite_store import SQLiteStore
from .store import JournalError, JournalStore

STORE_GROUP = "tradeloop.journal_stores"
DEFAULT_FILE = "journal.sqlite3"

StoreFactory = Callable[[JournalSettings, Settings], JournalStore]


def journal_path(config: JournalSettings, settings: Settings) -> Path:
    """``plugins.journal.path``, or ``<runtime.data_dir>/journal.sqlite3``."""
    if config.path:
        return Path(config.path)
    return Path(settings.runtime.data_dir) / DEFAULT_FILE


def make_store(config: JournalSettings, settings: Settings) -> JournalStore:
    """The store named by ``plugins.journal.store`` (not opened yet)."""
    if config.store == "sqlite":
        return SQLiteStore(
            journal_path(config, settings),
            synchronous=config.synchronous,
            check=config.check_at_open,
        )
    for ep in entry_points(group=STORE_GROUP):
        if ep.name == config.store:
            factory: StoreFactory = ep.load()
            return factory(config, settings)
    known = ", ".join(sorted({"sqlite", *(ep.name for ep in entry_points(group=STORE_GROUP))}))
    raise JournalError(f"plugins.journal.store = {config.store!r}: no such store (known: {known})")
