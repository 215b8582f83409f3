"""Server-time offset: the median of recent samples, re-measured on -1021 (PITFALLS 26)."""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable


class TimeOffset:
    """``server_ms() = local time + offset``; each sample takes the midpoint of the round trip."""

    def __init__(self, wall: Callable[[], float] = time.time, samples: int = 5) -> None:
        self._wall = wall
        self._samples: deque[float] = deque(maxlen=samples)
        self.offset_ms = 0.0
        self.resyncs = 0

    def add_sample(self, server_ms: int, sent_at: float, received_at: float) -> None:
        """Record one ``serverTime`` answer; ``sent_at``/``received_at`` are local seconds."""
        midpoint_ms = (sent_at + received_at) * 500.0
        self._samples.append(server_ms - midpoint_ms)
        self.offset_ms = statistics.median(self._samples)

    def reset(self) -> None:
        """Forget old samples (the offset jumped: -1021)."""
        self._samples.clear()
        self.resyncs += 1

    def now_ms(self) -> int:
        """The server's current time in ms, as far as we know."""
        return int(self._wall() * 1000 + self.offset_ms)

    def now_s(self) -> float:
        """The server's current time in seconds."""
        return self._wall() + self.offset_ms / 1000

    def local(self) -> float:
        """Local wall time in seconds."""
        return self._wall()
