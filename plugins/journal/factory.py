"""Which ``JournalStore`` a configuration asks for, and where the SQLite file lives."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from framework import Settings
from framework.venue import venue_of

from .settings import JournalSettings
from .sqlite_store import SQLiteStore
from .store import JournalError, JournalStore, StreamingJournalStore

STORE_GROUP = "tradeloop.journal_stores"
LEGACY_FILE = "journal.sqlite3"
"""The default file before journals were kept apart per venue."""

StoreFactory = Callable[[JournalSettings, Settings], JournalStore]


def default_file(settings: Settings) -> str:
    """``journal-sim.sqlite3``, ``journal-testnet.sqlite3`` or ``journal-live.sqlite3``: one
    journal per venue, so a simulated or testnet run never mixes into a live account's."""
    return f"journal-{venue_of(settings).slug}.sqlite3"


def journal_path(config: JournalSettings, settings: Settings) -> Path:
    """``plugins.journal.path``, or ``<runtime.data_dir>/journal-<venue>.sqlite3``.

    A journal left at the old default (``<runtime.data_dir>/journal.sqlite3``) while the
    venue's file does not exist yet is refused (``JournalError``, exit 2): nothing can tell
    which venue it recorded, and opening a new file beside it would split its history
    silently. The message says how to keep it (docs/reporting.md#one-journal-per-venue).
    """
    if config.path:
        return Path(config.path)
    data = Path(settings.runtime.data_dir)
    path = data / default_file(settings)
    legacy = data / LEGACY_FILE
    if legacy.is_file() and not path.exists():
        raise JournalError(
            f"journal {legacy} is at the old default path; journals are now kept apart per "
            f"venue ({path.name} for this one). If it recorded this venue, move it: "
            f"mv {legacy} {path} (with its -wal and -shm files if present); otherwise move "
            f"it to the name of the venue it recorded, or set plugins.journal.path to it"
        )
    return path


def make_store(
    config: JournalSettings, settings: Settings, *, read_only: bool = False
) -> JournalStore:
    """The store named by ``plugins.journal.store`` (not opened yet).

    ``read_only``: a store that only reads an existing journal (the CLI's readers): the
    SQLite file is opened ``mode=ro``, never created or migrated; another store gives its
    ``reader()`` when it has one (``StreamingJournalStore``).
    """
    if config.store == "sqlite":
        return SQLiteStore(
            journal_path(config, settings),
            synchronous=config.synchronous,
            check=config.check_at_open,
            read_only=read_only,
        )
    for ep in entry_points(group=STORE_GROUP):
        if ep.name == config.store:
            factory: StoreFactory = ep.load()
            store = factory(config, settings)
            if read_only and isinstance(store, StreamingJournalStore):
                return store.reader()
            return store
    known = ", ".join(sorted({"sqlite", *(ep.name for ep in entry_points(group=STORE_GROUP))}))
    raise JournalError(f"plugins.journal.store = {config.store!r}: no such store (known: {known})")
