"""The loop watchdog: a cheap periodic task that notices when the event loop was blocked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from loguru import logger


@dataclass(frozen=True, slots=True)
class LoopLag:
    """A read-only snapshot of the watchdog's measurements (seconds, loop monotonic clock)."""

    current: float
    """How late the last wakeup was."""
    max: float
    """The latest wakeup so far."""
    stalls: int
    """Wakeups at least ``stall_threshold`` late."""
    longest_stall: float
    """The longest stall so far (0 before the first)."""
    stalled: float
    """Seconds lost to stalls in total."""
    stall_threshold: float
    """``runtime.loop_stall_warning``."""
    wakeups: int


class LoopWatchdog:
    """Wakes every ``interval`` seconds and measures how late it woke.

    A wakeup ``threshold`` seconds or more late means something blocked the loop that long
    (a synchronous call, a large decode, a paused process): it is logged as a warning with the
    stall's length and counted. Measured on the loop's monotonic clock, never the bot's
    ``Clock`` (a ``ManualClock`` does not move while the loop is blocked).

    Until ``started()`` (the bot has started), a late wakeup is the start itself (plugins
    import their libraries and open their first connections on the loop): it is logged at
    INFO and added to ``blocked_at_start``, not counted as a stall.
    """

    def __init__(self, interval: float, threshold: float) -> None:
        self.interval = interval
        self.threshold = threshold
        self.wakeups = 0
        self.stalls = 0
        self.longest = 0.0
        self.total = 0.0
        self.last_lag = 0.0
        self.max_lag = 0.0
        self.starting = True
        self.blocked_at_start = 0.0

    def started(self) -> None:
        """The bot has started: from now on a late wakeup is a stall."""
        self.starting = False

    async def run(self) -> None:
        """Watch until cancelled."""
        loop = asyncio.get_running_loop()
        interval = self.interval
        while True:
            before = loop.time()
            await asyncio.sleep(interval)
            late = loop.time() - before - interval
            self.wakeups += 1
            self.last_lag = late
            if late > self.max_lag:
                self.max_lag = late
            if late >= self.threshold:
                if self.starting:
                    self._blocked_while_starting(late)
                else:
                    self.stalled(late)

    def _blocked_while_starting(self, seconds: float) -> None:
        self.blocked_at_start += seconds
        logger.bind(log_key="loop_stall").info(
            "starting: the event loop was blocked for {:.3f} s (plugins importing their "
            "libraries and opening connections); stalls are counted once the bot has started",
            seconds,
        )

    def stalled(self, seconds: float) -> None:
        """Count and log one stall of ``seconds``."""
        self.stalls += 1
        self.total += seconds
        self.longest = max(self.longest, seconds)
        logger.bind(log_key="loop_stall").warning(
            "event loop stalled for {:.3f} s (blocking work on the loop; ticks older than "
            "runtime.max_tick_age are dropped)",
            seconds,
        )

    def snapshot(self) -> LoopLag:
        """The measurements so far."""
        return LoopLag(
            current=self.last_lag,
            max=self.max_lag,
            stalls=self.stalls,
            longest_stall=self.longest,
            stalled=self.total,
            stall_threshold=self.threshold,
            wakeups=self.wakeups,
        )

    def stats(self) -> dict[str, float | int]:
        """The ``loop`` section of the run summary."""
        return {
            "stalls": self.stalls,
            "longest_stall_s": round(self.longest, 3),
            "stalled_s": round(self.total, 3),
            "stall_warning_s": self.threshold,
            "blocked_at_start_s": round(self.blocked_at_start, 3),
        }
