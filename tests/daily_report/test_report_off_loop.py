"""A report over a large day is built off the event loop: the loop's thread does almost none
of the work.

The journal is generated through the real store (``benchmarks/bench_report.py``: 80,000 fills
and as many order updates in one day). What is measured is CPU time, not wall time: the CPU
the loop's thread spent while the report was written (``time.thread_time``) against the CPU
of the whole process (``time.process_time``, the worker thread included). A loaded machine
makes both slower, never shifts one into the other. Built on the loop, the loop's thread did
about two thirds of the work (1.2 s of 1.9 s); off the loop, under 2 % (0.04 s of 2.6 s).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from benchmarks.bench_report import DAY_MS, DAY_START_MS, generate
from framework import ManualClock
from framework.testing import BotFactory
from plugins.daily_report import DailyReportPlugin, DailyReportSettings
from plugins.journal import Journal, JournalSettings

FILLS = 80_000


async def test_a_large_day_is_reported_without_blocking_the_loop(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    await generate(path, FILLS, account=False)
    reporter = DailyReportPlugin(DailyReportSettings(dir=str(tmp_path / "out"), catch_up=False))
    journal = Journal(JournalSettings(path=str(path), snapshot_at_start=False))
    clock = ManualClock((DAY_START_MS + DAY_MS) / 1000 + 3600)
    await bot_factory(plugins={"journal": journal, "daily_report": reporter}, clock=clock)

    loop_cpu, all_cpu = time.thread_time(), time.process_time()
    report = await reporter.write(date(2024, 5, 1))
    loop_cpu, all_cpu = time.thread_time() - loop_cpu, time.process_time() - all_cpu

    assert report.summary["trades"] == FILLS
    # the loop's thread did less than a tenth of the work: the rest ran in the worker thread
    assert loop_cpu < all_cpu / 10, (loop_cpu, all_cpu)
