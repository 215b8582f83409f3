"""How fresh the account cache is: the newest account state known to be true, and since when.

The cache's writers tell it: the connector when the user-data stream comes up or goes down
(``stream_up``/``stream_down``), reconciliation when a REST read confirmed the cache
(``confirmed``) and while it runs in degraded mode (``set_degraded``). Readers get a
``Freshness`` (``ctx.freshness()``, ``AccountView.freshness(now)``).
"""

from __future__ import annotations

from framework.types import Freshness


class FreshnessTracker:
    """The cache's freshness state; times are clock seconds."""

    __slots__ = ("_degraded", "_down_at", "_live", "_rest_at")

    def __init__(self) -> None:
        self._live = False
        self._degraded = False
        self._down_at: float | None = None  # the stream was last known good then
        self._rest_at: float | None = None  # a REST read that started then confirmed the cache

    def stream_up(self) -> None:
        """The user-data stream is connected and feeds the cache."""
        self._live = True

    def stream_down(self, at: float) -> None:
        """The user-data stream was last known good at ``at`` (it dropped, went stale or was
        found silent)."""
        if self._live or self._down_at is None:
            self._down_at = at
        else:
            self._down_at = min(self._down_at, at)
        self._live = False

    def confirmed(self, at: float) -> None:
        """A REST read that started at ``at`` confirmed the cache (a reconcile or a poll)."""
        if self._rest_at is None or at > self._rest_at:
            self._rest_at = at

    def set_degraded(self, on: bool) -> None:
        """Degraded mode began (the cache follows REST polls) or ended (resynced)."""
        self._degraded = on

    @property
    def degraded(self) -> bool:
        """Degraded mode is on."""
        return self._degraded

    def snapshot(self, now: float) -> Freshness:
        """The freshness at ``now``."""
        if self._live and not self._degraded:
            return Freshness(live=True, degraded=False, confirmed_at=now, age=0.0, source="stream")
        candidates = [(t, src) for t, src in ((self._down_at, "stream"), (self._rest_at, "rest"))]
        known = [(t, src) for t, src in candidates if t is not None]
        if not known:
            return Freshness(
                live=False, degraded=self._degraded, confirmed_at=None, age=None, source=""
            )
        at, source = max(known)
        return Freshness(
            live=False,
            degraded=self._degraded,
            confirmed_at=at,
            age=max(0.0, now - at),
            source=source,
        )
