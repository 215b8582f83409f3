"""What the journal-reading commands share: the store named by the settings, UTC periods."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from framework import Settings
from plugins.journal import JournalSettings, JournalStore

from .build import day_bounds
from .settings import DailyReportSettings

COMMON_KEYS = ("enabled", "required")


class UsageError(Exception):
    """A bad command-line value (exit 2)."""


def block(settings: Settings, name: str, schema: type[Any]) -> Any:
    """A plugin's settings block, without the keys every plugin has."""
    raw = {k: v for k, v in settings.plugins.get(name, {}).items() if k not in COMMON_KEYS}
    return msgspec.convert(raw, schema, strict=False)


def report_settings(settings: Settings) -> DailyReportSettings:
    """The ``plugins.daily_report`` block."""
    config: DailyReportSettings = block(settings, "daily_report", DailyReportSettings)
    return config


def journal_store(settings: Settings, command: str) -> JournalStore | None:
    """The (unopened) journal store the command reads, read-only (it never creates or
    migrates a journal); ``None`` after saying there is none."""
    from plugins.journal import SQLiteStore, make_store  # aiosqlite only when a command runs

    config = report_settings(settings)
    journal: JournalSettings = block(settings, config.journal, JournalSettings)
    store = make_store(journal, settings, read_only=True)
    if isinstance(store, SQLiteStore) and not store.path.is_file():
        print(f"tradeloop {command}: error: no journal at {store.path}", file=sys.stderr)
        return None
    return store


def add_period(parser: argparse.ArgumentParser, *, default: str) -> None:
    """``--from`` and ``--to`` (UTC days, both included)."""
    parser.add_argument(
        "--from",
        dest="first",
        metavar="YYYY-MM-DD",
        help=f"first UTC day, included (default: {default})",
    )
    parser.add_argument(
        "--to", dest="last", metavar="YYYY-MM-DD", help="last UTC day, included (default: today)"
    )


def parse_day(option: str, value: str) -> date:
    """A ``YYYY-MM-DD`` option value, or ``UsageError``."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r}: expected YYYY-MM-DD") from None


def period(args: argparse.Namespace, now: float) -> tuple[int, int]:
    """``[start, end)`` in epoch ms of ``--from``/``--to``; without ``--from`` the whole
    journal (from the epoch), without ``--to`` through today (UTC)."""
    today = datetime.fromtimestamp(now, UTC).date()
    first = parse_day("--from", args.first) if args.first else None
    last = parse_day("--to", args.last) if args.last else today
    if first is not None and first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    return (day_bounds(first)[0] if first else 0), day_bounds(last)[1]


def iso(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def yesterday(now: float) -> date:
    """The UTC day before ``now``."""
    return datetime.fromtimestamp(now, UTC).date() - timedelta(days=1)
