"""``tradeloop report``: write the report of a day, or of a period of days, from the journal on
disk; ``--csv`` also exports the period's trades."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path

from framework import Command, Settings

from .build import build_report, day_bounds, has_activity
from .csv_export import write_trades_csv
from .files import write_report
from .journal_cli import UsageError, journal_store, parse_day, report_settings, yesterday


def configure(parser: argparse.ArgumentParser) -> None:
    """``--date``, or ``--from``/``--to``; ``--csv``."""
    parser.add_argument(
        "--date", metavar="YYYY-MM-DD", help="the UTC day to report (default: yesterday)"
    )
    parser.add_argument(
        "--from", dest="first", metavar="YYYY-MM-DD", help="first UTC day of a period, included"
    )
    parser.add_argument(
        "--to",
        dest="last",
        metavar="YYYY-MM-DD",
        help="last UTC day of a period, included (default: the --from day)",
    )
    parser.add_argument(
        "--csv", metavar="PATH", help="also write the period's trades as CSV to PATH"
    )


def days(args: argparse.Namespace, now: float) -> tuple[date, date]:
    """The first and last day to report."""
    if args.date and (args.first or args.last):
        raise UsageError("--date cannot be combined with --from/--to")
    if args.last and not args.first:
        raise UsageError("--to needs --from")
    if args.first:
        first = parse_day("--from", args.first)
        last = parse_day("--to", args.last) if args.last else first
        if first > last:
            raise UsageError(f"--from {first} is after --to {last}")
        return first, last
    day = parse_day("--date", args.date) if args.date else yesterday(now)
    return day, day


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build and write the report; 0 when written, 1 without a journal, 2 on a bad date."""
    now = time.time()
    try:
        first, last = days(args, now)
    except UsageError as exc:
        print(f"tradeloop report: error: {exc}", file=sys.stderr)
        return 2
    config = report_settings(settings)
    store = journal_store(settings, "report")
    if store is None:
        return 1
    await store.open()
    try:
        if not await has_activity(store, first, last):
            span = first if first == last else f"{first} to {last}"
            print(f"tradeloop report: note: the journal has no run on {span}", file=sys.stderr)
        report = await build_report(
            store,
            first,
            now_ms=int(now * 1000),
            equity_asset=config.equity_asset,
            last_day=last,
        )
        fills = await store.fills(day_bounds(first)[0], day_bounds(last)[1]) if args.csv else []
    finally:
        await store.close()
    files = await asyncio.to_thread(write_report, report, Path(config.dir))
    for path in files:
        print(path)
    if args.csv:
        await asyncio.to_thread(write_trades_csv, fills, args.csv)
        print(args.csv)
    return 0


def report_command() -> Command:
    """The ``report`` sub-command."""
    return Command(
        name="report",
        help="write the report of a UTC day (default: yesterday) or a period from the journal",
        run=run,
        configure=configure,
    )
