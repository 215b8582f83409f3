"""The core's scheduler: interval and daily (UTC) jobs registered by plugins."""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from loguru import logger

from framework.clock import Clock
from framework.task_owner import owned_context
from framework.types import DailyJob, IntervalJob, Job


@dataclass
class JobStats:
    """What happened to one job so far."""

    runs: int = 0
    failures: int = 0
    skipped: int = 0
    last_run_at: float | None = None
    last_error: str = ""
    running: bool = False


@dataclass
class _Entry:
    job: Job
    owner: str
    stats: JobStats = field(default_factory=JobStats)
    task: asyncio.Task[None] | None = None
    trigger: asyncio.Event = field(default_factory=asyncio.Event)


def parse_daily_time(at: str) -> tuple[int, int]:
    """'HH:MM' (UTC) as (hour, minute); ValueError if malformed."""
    try:
        hour_text, minute_text = at.split(":")
        hour, minute = int(hour_text), int(minute_text)
    except ValueError:
        raise ValueError(f"expected 'HH:MM', got {at!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"expected 'HH:MM' between 00:00 and 23:59, got {at!r}")
    return hour, minute


def next_daily_run(now: float, at: str) -> float:
    """The first time strictly after ``now`` at which the UTC wall clock reads ``at``."""
    hour, minute = parse_daily_time(at)
    current = datetime.fromtimestamp(now, UTC)
    candidate = current.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate.timestamp() <= now:
        candidate += timedelta(days=1)
    return candidate.timestamp()


class Scheduler:
    """Runs each job in its own task; a job never overlaps itself and survives its errors."""

    def __init__(
        self,
        clock: Clock,
        *,
        is_disabled: Callable[[str], bool] = lambda owner: False,
        on_failure: Callable[[str, str, BaseException], None] | None = None,
    ) -> None:
        """``is_disabled(owner)``: skip the jobs of a disabled (or paused) plugin.
        ``on_failure(owner, job, exc)``: told about each failure (after it is logged)."""
        self.clock = clock
        self._is_disabled = is_disabled
        self._on_failure = on_failure
        self._entries: dict[str, _Entry] = {}
        self._started = False

    def add(self, job: Job, owner: str = "core") -> str:
        """Register a job (before or after ``start``); returns its full name ``owner.name``."""
        if isinstance(job, DailyJob):
            parse_daily_time(job.at)
        elif not (job.every > 0 and math.isfinite(job.every)):
            raise ValueError(f"job {job.name!r}: 'every' must be a positive number of seconds")
        name = f"{owner}.{job.name}"
        if name in self._entries:
            raise ValueError(f"job {name!r} is already registered")
        entry = _Entry(job=job, owner=owner)
        self._entries[name] = entry
        if self._started:
            self._launch(name, entry)
        return name

    def add_all(self, jobs: Iterable[Job], owner: str) -> list[str]:
        """Register several jobs of one owner."""
        return [self.add(job, owner) for job in jobs]

    def start(self) -> None:
        """Start every registered job's task."""
        self._started = True
        for name, entry in self._entries.items():
            if entry.task is None:
                self._launch(name, entry)

    def _launch(self, name: str, entry: _Entry) -> None:
        entry.task = asyncio.get_running_loop().create_task(
            self._loop(name, entry),
            name=f"tradeloop-job:{name}",
            context=owned_context(entry.owner),
        )

    def trigger(self, name: str) -> bool:
        """Ask for an extra run of a job as soon as it is not running; False if unknown."""
        entry = self._entries.get(name)
        if entry is None:
            return False
        entry.trigger.set()
        return True

    def stats(self) -> dict[str, JobStats]:
        """Per-job counters."""
        return {name: entry.stats for name, entry in self._entries.items()}

    async def stop(self) -> None:
        """Cancel every job and wait for them."""
        tasks = [e.task for e in self._entries.values() if e.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for entry in self._entries.values():
            entry.task = None
        self._started = False

    async def _loop(self, name: str, entry: _Entry) -> None:
        job = entry.job
        if isinstance(job, IntervalJob):
            next_due = self.clock.time() + (0.0 if job.at_start else job.every)
        else:
            next_due = next_daily_run(self.clock.time(), job.at)
        while True:
            triggered = await self._wait(entry, next_due)
            await self._run(name, entry)
            if triggered:
                continue  # an extra run does not move the schedule
            now = self.clock.time()
            if isinstance(job, IntervalJob):
                next_due += job.every
                if next_due <= now:  # the run overran: skip the missed slots, never pile up
                    missed = math.floor((now - next_due) / job.every) + 1
                    entry.stats.skipped += missed
                    next_due += missed * job.every
            else:
                next_due = next_daily_run(max(now, next_due), job.at)

    async def _wait(self, entry: _Entry, due: float) -> bool:
        """Sleep until ``due`` or a trigger; True if woken by a trigger."""
        if entry.trigger.is_set():
            entry.trigger.clear()
            return True
        sleeper = asyncio.ensure_future(self.clock.sleep(due - self.clock.time()))
        waiter = asyncio.ensure_future(entry.trigger.wait())
        try:
            await asyncio.wait([sleeper, waiter], return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()
            await asyncio.gather(sleeper, waiter, return_exceptions=True)
        if entry.trigger.is_set() and self.clock.time() < due:
            entry.trigger.clear()
            return True
        entry.trigger.clear()
        return False

    async def _run(self, name: str, entry: _Entry) -> None:
        stats = entry.stats
        if self._is_disabled(entry.owner):
            stats.skipped += 1
            return
        stats.running = True
        stats.last_run_at = self.clock.time()
        try:
            async with asyncio.timeout(entry.job.timeout):
                result = entry.job.func()
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:  # noqa: BLE001 - a job's error must not end its schedule
            stats.failures += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"
            logger.bind(plugin=entry.owner).opt(exception=exc).error(
                "job {!r} failed: {!r}; it keeps its schedule", name, exc
            )
            if self._on_failure is not None:
                self._on_failure(entry.owner, f"job {name}", exc)
        else:
            stats.runs += 1
        finally:
            stats.running = False
