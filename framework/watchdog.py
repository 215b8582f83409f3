"""The loop watchdog: a cheap periodic task that notices when the event loop was blocked."""

from __future__ import annotations

import asyncio

from loguru import logger


class LoopWatchdog:
    """Wakes every ``interval`` seconds and measures how late it woke.

    A wakeup ``threshold`` seconds or more late means something blocked the loop that long
    (a synchronous call, a large decode, a paused process): it is logged as a warning with the
    stall's length and counted. Measured on the loop's monotonic clock, never the bot's
    ``Clock`` (a ``ManualClock`` does not move while the loop is blocked).
    """

    def __init__(self, interval: float, threshold: float) -> None:
        self.interval = interval
        self.threshold = threshold
        self.wakeups = 0
        self.stalls = 0
        self.longest = 0.0
        self.total = 0.0

    async def run(self) -> None:
        """Watch until cancelled."""
        loop = asyncio.get_running_loop()
        interval = self.interval
        while True:
            before = loop.time()
            await asyncio.sleep(interval)
            late = loop.time() - before - interval
            self.wakeups += 1
            if late >= self.threshold:
                self.stalled(late)

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

    def stats(self) -> dict[str, float | int]:
        """The ``loop`` section of the run summary."""
        return {
            "stalls": self.stalls,
            "longest_stall_s": round(self.longest, 3),
            "stalled_s": round(self.total, 3),
            "stall_warning_s": self.threshold,
        }
