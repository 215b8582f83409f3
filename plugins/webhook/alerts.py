"""Alerts: what deserves a message, rate limited and aggregated per kind.

``AlertBook`` decides, per alert kind, what is sent: the first alert of a kind goes out at once
and opens a window of ``window`` seconds; the alerts of that kind within the window are only
counted, and when it ends one digest says how many there were ("stream down: 12 alerts in
5 min, last: ..."), opening the next window. A kind that stays quiet for a whole window sends
its next alert at once again. So one kind sends at most one message per window after its
first, however fast the alerts come.

``StreamWatch`` turns stream states into "down beyond its bound" alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from framework import Alert, PluginError, ReconcileResult, StreamState, StreamStatus
from framework.strategy import STRATEGY_PREFIX

LABELS: Mapping[str, str] = {
    "drift": "drift found",
    "stream_down": "stream down",
    "plugin_disabled": "plugin disabled",
    "strategy_paused": "strategy paused by an error",
    "kill_switch": "kill switch tripped",
    "order_refused": "exchange refused an order",
    "rate_limited": "rate limited",
}
MAX_MESSAGE = 600
"""Longest alert message text sent (characters)."""


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver: the text a person reads, and the fields of the JSON format."""

    kind: str
    subject: str
    text: str
    message: str
    count: int
    at: float

    def json_body(self) -> dict[str, Any]:
        """The generic JSON format's body."""
        return {
            "source": "tradeloop",
            "kind": self.kind,
            "subject": self.subject,
            "message": self.message,
            "count": self.count,
            "at": self.at,
            "text": self.text,
        }


@dataclass
class _Window:
    started: float
    suppressed: int = 0
    last: Alert | None = None


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


class AlertBook:
    """Per-kind rate limiting and aggregation (see the module docstring)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._windows: dict[str, _Window] = {}
        self.received = 0
        self.suppressed = 0

    def add(self, alert: Alert) -> Outgoing | None:
        """The message to send now for ``alert``, or ``None`` if the window counts it."""
        self.received += 1
        state = self._windows.get(alert.kind)
        if state is not None and alert.at < state.started + self.window:
            state.suppressed += 1
            state.last = alert
            self.suppressed += 1
            return None
        if state is not None and state.suppressed:
            # the window ended unnoticed (no ``due`` call since): this alert carries the digest
            count = state.suppressed + 1
            self._windows[alert.kind] = _Window(alert.at)
            return self._digest(alert, count, alert.at - state.started)
        self._windows[alert.kind] = _Window(alert.at)
        text = f"tradeloop {LABELS.get(alert.kind, alert.kind)}: {_cut(alert.message)}"
        return Outgoing(alert.kind, alert.subject, text, _cut(alert.message), 1, alert.at)

    def due(self, now: float) -> list[Outgoing]:
        """Digests of the windows that ended with alerts counted in them."""
        out = []
        for kind, state in list(self._windows.items()):
            if now < state.started + self.window:
                continue
            if state.suppressed and state.last is not None:
                out.append(self._digest(state.last, state.suppressed, now - state.started))
                self._windows[kind] = _Window(now)  # a storm goes on: one digest per window
            else:
                del self._windows[kind]
        return out

    def _digest(self, last: Alert, count: int, span: float) -> Outgoing:
        label = LABELS.get(last.kind, last.kind)
        message = _cut(last.message)
        text = f"tradeloop {label}: {count} alerts in {_minutes(span)} (last: {message})"
        return Outgoing(last.kind, last.subject, text, message, count, last.at)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class StreamWatch:
    """Streams down (disconnected or stale) and since when; each is alerted once per outage,
    after ``bound`` seconds down."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self._down: dict[str, tuple[float, str, bool]] = {}  # stream -> (since, why, alerted)

    def update(self, status: StreamStatus) -> None:
        """Follow one ``on_stream_state``."""
        if status.state in (StreamState.DISCONNECTED, StreamState.STALE):
            if status.stream not in self._down:
                why = f"{status.state.value}: {status.reason}".rstrip(": ")
                self._down[status.stream] = (status.at, why, False)
        else:
            self._down.pop(status.stream, None)

    def overdue(self, now: float) -> list[Alert]:
        """An alert for each stream down ``bound`` seconds or longer, not alerted yet."""
        out = []
        for stream, (since, why, alerted) in self._down.items():
            if alerted or now - since < self.bound:
                continue
            self._down[stream] = (since, why, True)
            out.append(
                Alert(
                    kind="stream_down",
                    subject=stream,
                    message=(
                        f"stream {stream} down for {now - since:.0f} s "
                        f"(bound {self.bound:g} s): {why}"
                    ),
                    at=now,
                )
            )
        return out


def drift_alert(result: ReconcileResult, now: float) -> Alert | None:
    """An alert for a reconcile that found drift (``None`` when the cache matched)."""
    if not result.mismatches:
        return None
    kinds: dict[str, int] = {}
    for m in result.mismatches:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    repaired = sum(1 for m in result.mismatches if m.repaired)
    listed = ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items()))
    return Alert(
        kind="drift",
        subject=result.reason,
        message=(
            f"{len(result.mismatches)} mismatches ({listed}), {repaired} repaired; "
            f"reconcile {result.reason}"
        ),
        at=now,
    )


def plugin_alert(error: PluginError, now: float) -> Alert | None:
    """An alert for a plugin the circuit breaker disabled (a strategy: paused by its error)."""
    if not error.disabled:
        return None
    if error.plugin.startswith(STRATEGY_PREFIX):
        sid = error.plugin.removeprefix(STRATEGY_PREFIX)
        return Alert(
            kind="strategy_paused",
            subject=sid,
            message=f"strategy {sid} paused after an error in {error.hook}: {error.error}",
            at=now,
        )
    return Alert(
        kind="plugin_disabled",
        subject=error.plugin,
        message=(
            f"plugin {error.plugin} disabled after {error.consecutive_failures} failures, "
            f"last in {error.hook}: {error.error}"
        ),
        at=now,
    )
