"""A report over a large day is built off the event loop: a ticker task keeps waking on time.

The journal is generated through the real store (``benchmarks/bench_report.py``: 80,000 fills
and as many order updates in one day). Built on the loop, decoding that day blocked it for
hundreds of milliseconds in one piece; off the loop, the ticker misses at most a few periods.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from benchmarks.bench_report import DAY_MS, DAY_START_MS, generate
from framework import ManualClock
from framework.testing import BotFactory
from plugins.daily_report import DailyReportPlugin, DailyReportSettings
from plugins.journal import Journal, JournalSettings

FILLS = 80_000
PERIOD = 0.05


class Ticker:
    """Wakes every ``PERIOD`` seconds; counts, per wakeup, the whole periods it woke late."""

    def __init__(self) -> None:
        self.wakeups = 0
        self.worst_missed = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(PERIOD)
            self.wakeups += 1
            missed = int((loop.time() - before - PERIOD) // PERIOD)
            self.worst_missed = max(self.worst_missed, missed)


async def test_a_large_day_is_reported_without_blocking_the_loop(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    await generate(path, FILLS, account=False)
    reporter = DailyReportPlugin(DailyReportSettings(dir=str(tmp_path / "out"), catch_up=False))
    journal = Journal(JournalSettings(path=str(path), snapshot_at_start=False))
    clock = ManualClock((DAY_START_MS + DAY_MS) / 1000 + 3600)
    await bot_factory(plugins={"journal": journal, "daily_report": reporter}, clock=clock)

    ticker = Ticker()
    ticker.start()
    try:
        report = await reporter.write(date(2024, 5, 1))
    finally:
        await ticker.stop()

    assert report.summary["trades"] == FILLS
    assert ticker.wakeups > 0
    # No single wakeup came 4 or more periods (200 ms) late: nothing blocked the loop that long.
    assert ticker.worst_missed < 4, ticker.worst_missed
