"""What only hooks tell: each stream's state and since when, recent fills and reconciles."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from framework import Fill, ReconcileResult, StreamState, StreamStatus

UP_STATES = frozenset({StreamState.CONNECTED, StreamState.RESYNCED})


@dataclass(slots=True)
class StreamTrack:
    """The last announced state of one stream, when (bot clock) it began, and its counts."""

    state: StreamState
    since: float
    reason: str
    announcements: int = 1

    @property
    def up(self) -> bool:
        """Connected (or just resynced)."""
        return self.state in UP_STATES


class Observed:
    """Filled by the plugin's hooks; read by ``/health``, ``/metrics`` and the API."""

    def __init__(self, recent: int) -> None:
        self.streams: dict[str, StreamTrack] = {}
        self.fills: deque[Fill] = deque(maxlen=recent)
        self.reconciles: deque[tuple[float, ReconcileResult]] = deque(maxlen=recent)
        self.drift_found: Counter[str] = Counter()
        self.drift_repaired: Counter[str] = Counter()
        self.reconcile_runs = 0
        self.reconcile_seconds = 0.0

    def stream(self, status: StreamStatus, now: float) -> None:
        """Record a stream's new state; ``since`` moves only when up/down changes."""
        track = self.streams.get(status.stream)
        if track is None:
            self.streams[status.stream] = StreamTrack(status.state, now, status.reason)
            return
        was_up = track.up
        track.state = status.state
        track.reason = status.reason
        track.announcements += 1
        if track.up != was_up:
            track.since = now

    def fill(self, fill: Fill) -> None:
        """Keep a fill (the oldest beyond ``recent`` is forgotten)."""
        self.fills.append(fill)

    def reconcile(self, result: ReconcileResult, now: float) -> None:
        """Keep a reconcile result with the time it arrived; count its drift by kind."""
        self.reconciles.append((now, result))
        self.reconcile_runs += 1
        self.reconcile_seconds += result.duration_s
        for mismatch in result.mismatches:
            self.drift_found[mismatch.kind] += 1
            if mismatch.repaired:
                self.drift_repaired[mismatch.kind] += 1


class EquityHistory:
    """Equity and the day's PnL over the current UTC day, at most ``size`` samples.

    Filled from the kill switch's readings (``ctx.kill_switch.risk``); a new UTC day starts
    an empty history. When full, every other sample is dropped (the chart keeps the whole
    day at half the resolution) rather than the oldest, so memory stays bounded.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.day = ""
        self.asset = ""
        self.samples: list[tuple[float, Decimal, Decimal]] = []

    def add(self, day: str, asset: str, at: float, equity: Decimal, day_pnl: Decimal) -> None:
        """Keep one sample (a new day or asset starts afresh)."""
        if day != self.day or asset != self.asset:
            self.day, self.asset, self.samples = day, asset, []
        if self.samples and self.samples[-1][0] >= at:
            self.samples[-1] = (at, equity, day_pnl)
            return
        if len(self.samples) >= self.size:
            self.samples = self.samples[::2]
        self.samples.append((at, equity, day_pnl))

    def as_dict(self) -> dict[str, Any]:
        """``{day, asset, samples: [[t, equity, day_pnl], ...]}`` (amounts as strings)."""
        return {
            "day": self.day,
            "asset": self.asset,
            "samples": [[t, str(e), str(p)] for t, e, p in self.samples],
        }
