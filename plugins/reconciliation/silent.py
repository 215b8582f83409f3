"""Silent user-data streams: connected, answering pings, delivering nothing.

``SilentWatch`` is fed every ``bound / 4`` seconds (clock time) with the connector's count of
user-data messages and of acknowledged order actions (``framework.StreamHealth``). From them it
knows since when the stream has been quiet (``quiet_since``: the tick before the last message
was seen, so never later than the message). A quiet stream is normal for an idle account, so
quiet alone proves nothing; the stream is **silent** when, quiet for at least ``bound``:

* the bot's own order actions were acknowledged by the exchange and none of them brought an
  event within ``grace`` (free: no REST), or
* a REST snapshot (the probe, at most once per ``bound``, only while the account holds open
  orders or positions, which can move without the bot) shows an entry the exchange changed
  after the stream went quiet and at least ``grace`` before the snapshot, which the cache
  does not have (``evidence``).

A change at time c is found by the first probe at or after c + ``grace``: within
``bound`` + ``grace`` + one tick of c, under twice the bound (``grace`` <= ``bound / 4``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .compare import Finding


@dataclass
class SilentWatch:
    """What the watcher knows of the user-data stream's quiet, and its own counts."""

    bound: float
    grace: float
    quiet_since: float | None = None
    messages: int = -1
    actions_at_quiet: int = 0
    acted_at: float | None = None
    last_tick: float | None = None
    last_probe: float | None = None
    probes: int = 0
    weight: int = 0
    detected: int = 0

    @property
    def tick(self) -> float:
        """Seconds between observations."""
        return self.bound / 4

    def observe(self, now: float, messages: int, actions: int) -> None:
        """One observation of the counters at clock time ``now``."""
        if messages != self.messages:
            self.messages = messages
            self.quiet_since = self.last_tick if self.last_tick is not None else now
            self.actions_at_quiet = actions
            self.acted_at = None
        elif actions != self.actions_at_quiet and self.acted_at is None:
            self.acted_at = now  # the first unanswered action was acknowledged by now
        self.last_tick = now

    def quiet_for(self, now: float) -> float:
        """Seconds the stream has been quiet (0 before the first observation)."""
        return 0.0 if self.quiet_since is None else max(0.0, now - self.quiet_since)

    def unanswered_actions(self, now: float) -> str | None:
        """Why the stream is silent from the bot's own actions alone, or ``None``."""
        if self.quiet_for(now) < self.bound or self.acted_at is None:
            return None
        if now - self.acted_at < self.grace:
            return None
        return (
            f"order actions acknowledged by the exchange brought no event for "
            f"{now - self.acted_at:.0f} s"
        )

    def probe_due(self, now: float, *, could_move: bool) -> bool:
        """Quiet for ``bound``, the account could move, no probe for ``bound``."""
        if not could_move or self.quiet_for(now) < self.bound:
            return False
        return self.last_probe is None or now - self.last_probe >= self.bound - self.tick / 2

    def evidence(self, suspects: Sequence[Finding], snapshot_time: int) -> str | None:
        """A difference the stream should have delivered: the exchange changed the entry after
        the stream went quiet and ``grace`` before ``snapshot_time`` (ms). ``None`` if none."""
        if self.quiet_since is None:
            return None
        since = int(self.quiet_since * 1000)
        until = snapshot_time - int(self.grace * 1000)
        for finding in suspects:
            x = finding.exchange
            if x is not None and since <= x.event_time <= until:
                return (
                    f"{finding.kind} {_key(finding)}: the exchange changed it at "
                    f"{x.event_time}, {snapshot_time - x.event_time} ms before the probe"
                )
        return None

    def restart(self, now: float, actions: int) -> None:
        """The stream was replaced: a fresh quiet period starts now."""
        self.quiet_since = now
        self.actions_at_quiet = actions
        self.acted_at = None
        self.last_probe = now


def _key(finding: Finding) -> str:
    key = finding.key
    return ":".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
