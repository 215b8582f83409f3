"""The writer's compression budget: how much CPU it may spend compressing.

zstd costs CPU in proportion to the bytes it reads (about 4.5 µs for a 1.2 kB ACCOUNT_UPDATE
at level 3 on the project machine, a fifth of what the connector spends on that message). A
bot's streams are far below the rate where that matters; a burst is not. The writer compresses
while its compression CPU stays under ``share`` of one core on average, with up to ``burst``
seconds of that saved up; past it, blocks are stored uncompressed (larger files, ~0.5 µs a
frame) until the average falls back under.
"""

from __future__ import annotations


class CompressBudget:
    """A bucket of CPU seconds that fills at ``share`` per wall second, up to ``share *
    burst``; compressing a block takes out the CPU it cost."""

    def __init__(self, share: float, burst: float = 2.0) -> None:
        self.share = share
        self.limit = share * burst
        self.credit = self.limit  # a run starts with a full bucket
        self._last: float | None = None

    def refill(self, now: float) -> None:
        """Add what ``now`` (wall seconds, monotonic) earned since the last refill."""
        if self._last is not None:
            self.credit = min(self.limit, self.credit + self.share * max(0.0, now - self._last))
        self._last = now

    def allows(self) -> bool:
        """Whether the next block may be compressed."""
        return self.credit > 0.0

    def spend(self, cpu: float) -> None:
        """Take out ``cpu`` seconds a compression cost."""
        self.credit -= cpu
