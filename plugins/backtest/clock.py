"""The backtest's clock: a ``ManualClock`` the data moves, cheap when nobody sleeps."""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable

from framework.clock import ManualClock


class BacktestClock(ManualClock):
    """Moved forward by the backtest loop to each price's time; sleepers wake in order."""

    def due(self, now: float) -> bool:
        """True when a sleeper's deadline is at or before ``now``."""
        sleepers = self._sleepers
        return bool(sleepers) and sleepers[0][0] <= now

    def set_time(self, now: float) -> None:
        """Move to ``now`` when no sleeper is due by then (the loop's common case)."""
        if now > self._now:
            self._now = now

    async def move_to(self, now: float, settle: Callable[[], Awaitable[None]]) -> None:
        """Move to ``now``, waking each due sleeper at its deadline and letting it run."""
        sleepers = self._sleepers
        while sleepers and sleepers[0][0] <= now:
            deadline, _, future = heapq.heappop(sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
                await settle()
        self.set_time(now)
