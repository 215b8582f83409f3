"""The scheduler, driven by a manual clock: no sleeping, fully deterministic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from framework import DailyJob, IntervalJob, ManualClock
from framework.scheduler import Scheduler, next_daily_run, parse_daily_time
from framework.task_owner import task_owner

START = datetime(2026, 11, 23, 23, 58, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def scheduler(clock: ManualClock) -> AsyncIterator[Scheduler]:
    sched = Scheduler(clock)
    yield sched
    await sched.stop()


async def test_interval_job_runs_on_schedule(clock: ManualClock, scheduler: Scheduler) -> None:
    runs: list[float] = []
    scheduler.add(IntervalJob(name="tick", every=10, func=lambda: runs.append(clock.time())), "p")
    scheduler.start()
    await clock.advance(35)
    assert runs == [START + 10, START + 20, START + 30]
    assert scheduler.stats()["p.tick"].runs == 3


async def test_a_job_and_the_tasks_it_creates_name_its_owner(
    clock: ManualClock, scheduler: Scheduler
) -> None:
    seen: list[str] = []

    async def child() -> None:
        seen.append(task_owner())

    async def job() -> None:
        seen.append(task_owner())
        await asyncio.gather(child(), child())  # new tasks: the owner comes with the context

    scheduler.add(IntervalJob(name="j", every=10, func=job, at_start=True), "journal")
    scheduler.start()
    await clock.advance(0)
    assert seen == ["journal", "journal", "journal"]
    assert task_owner() == ""  # the caller's own context is unchanged


async def test_at_start_runs_immediately(clock: ManualClock, scheduler: Scheduler) -> None:
    runs: list[float] = []
    scheduler.add(
        IntervalJob(name="j", every=10, func=lambda: runs.append(clock.time()), at_start=True)
    )
    scheduler.start()
    await clock.advance(0)
    assert runs == [START]


async def test_a_job_never_overlaps_itself_and_skips_missed_slots(
    clock: ManualClock, scheduler: Scheduler
) -> None:
    active = 0
    max_active = 0
    starts: list[float] = []

    async def long_job() -> None:
        nonlocal active, max_active
        active += 1
        max_active = max(max_active, active)
        starts.append(clock.time())
        await clock.sleep(25)  # longer than the interval
        active -= 1

    scheduler.add(IntervalJob(name="long", every=10, func=long_job), "p")
    scheduler.start()
    await clock.advance(100)
    assert max_active == 1
    assert starts == [START + 10, START + 40, START + 70, START + 100]
    assert scheduler.stats()["p.long"].skipped == 6


async def test_failing_job_keeps_its_schedule(clock: ManualClock, scheduler: Scheduler) -> None:
    calls = 0

    def broken() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    scheduler.add(IntervalJob(name="broken", every=5, func=broken), "p")
    scheduler.start()
    await clock.advance(20)
    stats = scheduler.stats()["p.broken"]
    assert calls == 4
    assert stats.failures == 4
    assert "boom" in stats.last_error


async def test_job_timeout_counts_as_failure(clock: ManualClock, scheduler: Scheduler) -> None:
    async def hangs() -> None:
        await asyncio.Event().wait()

    scheduler.add(IntervalJob(name="hang", every=5, func=hangs, timeout=0.01), "p")
    scheduler.start()
    await clock.advance(5)
    for _ in range(50):
        if scheduler.stats()["p.hang"].failures:
            break
        await asyncio.sleep(0.01)
    assert scheduler.stats()["p.hang"].failures == 1


async def test_daily_job_runs_at_utc_time(clock: ManualClock, scheduler: Scheduler) -> None:
    runs: list[str] = []
    scheduler.add(
        DailyJob(
            name="report",
            at="00:00",
            func=lambda: runs.append(datetime.fromtimestamp(clock.time(), UTC).isoformat()),
        ),
        "daily",
    )
    scheduler.start()
    await clock.advance(2 * 86400)
    assert runs == ["2026-11-24T00:00:00+00:00", "2026-11-25T00:00:00+00:00"]


async def test_trigger_runs_an_extra_time_without_moving_the_schedule(
    clock: ManualClock, scheduler: Scheduler
) -> None:
    runs: list[float] = []
    name = scheduler.add(
        IntervalJob(name="rec", every=100, func=lambda: runs.append(clock.time())), "p"
    )
    scheduler.start()
    await clock.advance(30)
    assert scheduler.trigger(name)
    await clock.advance(0)
    await clock.advance(70)
    assert runs == [START + 30, START + 100]
    assert not scheduler.trigger("p.unknown")


async def test_stop_cancels_running_jobs(clock: ManualClock) -> None:
    scheduler = Scheduler(clock)
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler.add(IntervalJob(name="f", every=1, func=forever, at_start=True))
    scheduler.start()
    await clock.advance(0)
    await scheduler.stop()
    assert cancelled.is_set()


def test_bad_jobs_are_refused() -> None:
    scheduler = Scheduler(ManualClock())
    with pytest.raises(ValueError, match="HH:MM"):
        scheduler.add(DailyJob(name="d", at="25:00", func=lambda: None))
    with pytest.raises(ValueError, match="positive"):
        scheduler.add(IntervalJob(name="i", every=0, func=lambda: None))
    scheduler.add(IntervalJob(name="i", every=1, func=lambda: None))
    with pytest.raises(ValueError, match="already registered"):
        scheduler.add(IntervalJob(name="i", every=1, func=lambda: None))


def test_next_daily_run_is_strictly_after_now() -> None:
    midnight = datetime(2026, 11, 24, tzinfo=UTC).timestamp()
    assert next_daily_run(midnight - 1, "00:00") == midnight
    assert next_daily_run(midnight, "00:00") == midnight + 86400
    assert parse_daily_time("07:05") == (7, 5)
