"""Clocks: the system clock, and a manual clock that tests advance by hand."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in Unix seconds, and a sleep that follows that time."""

    def time(self) -> float:
        """Current Unix time in seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Current Unix time in seconds."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when a test calls ``advance``; sleepers wake in deadline order."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        """The clock's current time."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Wait until ``advance`` moves the clock ``seconds`` forward."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        await future

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline is reached, in order."""
        target = self._now + seconds
        await self._settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await self._settle()
        self._now = target
        await self._settle()

    @property
    def next_wake(self) -> float | None:
        """The earliest deadline a task sleeps until, or ``None``."""
        sleepers = self._sleepers
        while sleepers and sleepers[0][2].done():  # cancelled while asleep
            heapq.heappop(sleepers)
        return sleepers[0][0] if sleepers else None

    async def advance_to(self, when: float) -> None:
        """Move the clock to ``when`` (never back), as ``advance`` does; when no sleeper is due
        by then it returns at once, without letting other tasks run (a replay moves the clock
        for every one of thousands of messages a second)."""
        if when <= self._now:
            return
        sleepers = self._sleepers
        if not sleepers or sleepers[0][0] > when:
            self._now = when
            return
        await self.advance(when - self._now)

    @staticmethod
    async def _settle() -> None:
        """Let woken tasks run until they block again (on the clock or on I/O)."""
        for _ in range(20):
            await asyncio.sleep(0)
