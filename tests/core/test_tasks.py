"""Cancelling a task never swallows a cancellation aimed at the caller."""

from __future__ import annotations

import asyncio
import re

import pytest

from framework import cancel_and_wait
from tests.support import ROOT


async def _slow_to_die(cleaning: asyncio.Event, release: asyncio.Event) -> None:
    """A task whose cleanup after cancel takes a while (like closing a socket)."""
    try:
        await asyncio.Event().wait()
    finally:
        cleaning.set()
        await release.wait()


async def test_the_tasks_own_cancellation_is_absorbed() -> None:
    task = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_a_cancellation_aimed_at_the_caller_is_re_raised() -> None:
    cleaning, release = asyncio.Event(), asyncio.Event()
    inner = asyncio.create_task(_slow_to_die(cleaning, release))
    await asyncio.sleep(0)
    after: list[str] = []

    async def caller() -> None:
        await cancel_and_wait(inner)
        after.append("the caller went on as if nothing happened")

    outer = asyncio.create_task(caller())
    await cleaning.wait()
    outer.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert outer.cancelled()
    assert after == []
    assert inner.done()


async def _cleans_up_in_steps() -> None:
    try:
        await asyncio.Event().wait()
    finally:
        for _ in range(5):
            await asyncio.sleep(0)


async def test_a_deadline_around_the_wait_still_fires() -> None:
    inner = asyncio.create_task(_cleans_up_in_steps())
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):
            await cancel_and_wait(inner)
    assert inner.done()


async def test_cleanup_after_the_caller_was_cancelled_still_waits_for_the_task() -> None:
    """A ``finally`` running after its task was cancelled (``serve_forever`` stopping its
    exchange) must finish its cleanup, not abort at the first awaited task."""
    inner = asyncio.create_task(_cleans_up_in_steps())
    cleaned: list[str] = []

    async def owner() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await cancel_and_wait(inner)
            cleaned.append("the rest of the cleanup ran")

    task = asyncio.create_task(owner())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["the rest of the cleanup ran"]
    assert inner.cancelled()


def test_no_module_swallows_cancellation_with_suppress() -> None:
    """``suppress(CancelledError)`` around an await swallows the caller's cancel too."""
    pattern = re.compile(r"suppress\([^)]*CancelledError")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("framework", "plugins", "strategies")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == [], "use framework.cancel_and_wait instead"
