"""``tradeloop report [--date YYYY-MM-DD]``: write a day's report from the journal on disk."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

from framework import Command, Settings
from plugins.journal import JournalSettings

from .build import build_report, day_before, has_activity
from .files import write_report
from .settings import DailyReportSettings

COMMON_KEYS = ("enabled", "required")


def configure(parser: argparse.ArgumentParser) -> None:
    """``--date``."""
    parser.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="the UTC day to report (default: yesterday)",
    )


def _block(settings: Settings, name: str, schema: type[Any]) -> Any:
    raw = {k: v for k, v in settings.plugins.get(name, {}).items() if k not in COMMON_KEYS}
    return msgspec.convert(raw, schema, strict=False)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build and write the report; 0 when written, 1 without a journal, 2 on a bad date."""
    try:
        day = date.fromisoformat(args.date) if args.date else day_before(time.time())
    except ValueError:
        print(
            f"tradeloop report: error: --date {args.date!r}: expected YYYY-MM-DD", file=sys.stderr
        )
        return 2
    config: DailyReportSettings = _block(settings, "daily_report", DailyReportSettings)
    journal: JournalSettings = _block(settings, config.journal, JournalSettings)
    from plugins.journal import SQLiteStore, make_store  # aiosqlite only when it runs

    store = make_store(journal, settings)
    if isinstance(store, SQLiteStore) and not store.path.is_file():
        print(f"tradeloop report: error: no journal at {store.path}", file=sys.stderr)
        return 1
    await store.open()
    try:
        if not await has_activity(store, day):
            print(f"tradeloop report: note: the journal has no run on {day}", file=sys.stderr)
        report = await build_report(
            store, day, now_ms=int(time.time() * 1000), equity_asset=config.equity_asset
        )
    finally:
        await store.close()
    files = await asyncio.to_thread(write_report, report, Path(config.dir))
    for path in files:
        print(path)
    return 0


def report_command() -> Command:
    """The ``report`` sub-command."""
    return Command(
        name="report",
        help="write the daily report of a UTC day from the journal (default: yesterday)",
        run=run,
        configure=configure,
    )
