"""The ``daily_report`` plugin: the report of each UTC day, from the journal."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import date
from pathlib import Path
from typing import Any, Protocol, cast

from loguru import logger

from framework import BotContext, Command, DailyJob, DailyReport, SettingsError, hookimpl
from framework.scheduler import parse_daily_time
from plugins.journal import JournalStore, StreamingJournalStore

from .build import build_report, day_before, has_activity, summary
from .command import report_command
from .files import DamagedReportError, read_report, write_report
from .model import Report
from .settings import DailyReportSettings
from .trader import trader_commands

NAME = "daily_report"


class JournalSource(Protocol):
    """What the report needs from the journal plugin (``plugins.journal.Journal`` has it)."""

    run_id: str

    @property
    def store(self) -> JournalStore:
        """The journal's store."""
        ...

    async def flush(self) -> None:
        """Commit what was recorded so far."""
        ...

    def sample(self) -> None:
        """Record an equity sample now."""
        ...


def is_journal(plugin: object) -> bool:
    """True when ``plugin`` has what ``JournalSource`` needs (without running properties)."""
    return all(
        inspect.getattr_static(plugin, name, None) is not None
        for name in ("store", "flush", "sample", "run_id")
    )


class DailyReportPlugin:
    """Writes ``YYYY-MM-DD.{md,json,html}`` at ``at`` (UTC) and emits ``on_daily_report``."""

    def __init__(self, config: DailyReportSettings | None = None) -> None:
        self.config = config or DailyReportSettings()
        try:
            parse_daily_time(self.config.at)
        except ValueError as exc:
            raise SettingsError(f"plugins.{NAME}.at", self.config.at, str(exc)) from None
        self._ctx: BotContext | None = None
        self._journal: JournalSource | None = None
        self.written: list[DailyReport] = []
        self._lock = asyncio.Lock()

    @staticmethod
    @hookimpl
    def declare_settings() -> type[DailyReportSettings]:
        """The ``plugins.daily_report`` block."""
        return DailyReportSettings

    @hookimpl
    def register_commands(self) -> list[Command]:
        """``report``; the journal readers ``trades``, ``profit``, ``balance``, ``positions``."""
        return [report_command(), *trader_commands()]

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Find the journal; catch up on yesterday's report if it is missing."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        journal = ctx.plugin(self.config.journal)
        if journal is None or not is_journal(journal):
            raise RuntimeError(
                f"daily_report reads the journal plugin {self.config.journal!r}, which is not "
                f"running (plugins.{self.config.journal}.enabled, plugins.{NAME}.journal)"
            )
        self._ctx, self._journal = ctx, cast(JournalSource, journal)
        if self.config.catch_up:
            ctx.spawn(self._catch_up(), name="catch_up", owner=NAME)
        yield

    @hookimpl
    def register_jobs(self) -> list[DailyJob]:
        """The report of the day that just ended, every day at ``at`` (UTC)."""
        return [DailyJob(name="report", at=self.config.at, func=self.scheduled)]

    @hookimpl
    def summarize_run(self) -> Mapping[str, Any]:
        """The ``daily_report`` section of the run summary."""
        return {"daily_report": {"written": [r.day for r in self.written]}}

    # ------------------------------------------------------------------ work

    async def scheduled(self) -> None:
        """The job: sample equity now (the day's closing point), then report yesterday."""
        ctx, journal = self._require()
        journal.sample()
        await self.write(day_before(ctx.clock.time()))

    async def write(self, day: date) -> DailyReport:
        """Build ``day``'s report from the journal, write its files, emit ``on_daily_report``."""
        ctx, journal = self._require()
        async with self._lock:
            await journal.flush()
            report = await self._build(
                journal.store, day, now_ms=int(ctx.clock.time() * 1000), run_id=journal.run_id
            )
            files = await asyncio.to_thread(write_report, report, Path(self.config.dir))
        done = DailyReport(day=report.day, files=files, summary=summary(report))
        self.written.append(done)
        logger.info("daily report {} written: {}", report.day, ", ".join(files))
        ctx.hooks.on_daily_report(done)
        return done

    async def _build(self, store: JournalStore, day: date, *, now_ms: int, run_id: str) -> Report:
        """Build the report off the event loop when the store can open a second reader.

        The reader is opened, read and closed in a worker thread on its own event loop, so
        neither the queries nor decoding and tallying a large day run on the bot's loop.
        Cancelling this (the bot stops) makes the worker give up within a few rows.
        """
        equity_asset = self.config.equity_asset
        if not isinstance(store, StreamingJournalStore):  # a store that cannot: on the loop
            return await build_report(
                store, day, now_ms=now_ms, equity_asset=equity_asset, current_run=run_id
            )
        reader = store.reader()
        stop = threading.Event()

        async def build() -> Report:
            await reader.open()
            try:
                return await build_report(
                    reader,
                    day,
                    now_ms=now_ms,
                    equity_asset=equity_asset,
                    current_run=run_id,
                    stopped=stop.is_set,
                )
            finally:
                await reader.close()

        try:
            return await asyncio.to_thread(asyncio.run, build())
        except asyncio.CancelledError:
            stop.set()
            raise

    async def _catch_up(self) -> None:
        ctx, journal = self._require()
        day = day_before(ctx.clock.time())
        written = Path(self.config.dir) / f"{day}.json"
        if written.exists():
            try:
                await asyncio.to_thread(read_report, written)
                return
            except DamagedReportError as exc:
                logger.bind(plugin=NAME).warning("{}: writing it again", exc)
        if await has_activity(journal.store, day):
            logger.info("daily report {} is missing: writing it now", day)
            await self.write(day)

    def _require(self) -> tuple[BotContext, JournalSource]:
        if self._ctx is None or self._journal is None:
            raise RuntimeError("daily_report is not started")
        return self._ctx, self._journal
