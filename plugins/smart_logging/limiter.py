"""Rate limiting and aggregation of repeated log lines, independent of loguru.

A *key* names one kind of message. Within ``window`` seconds of the line that opened a key's
window, further records of that key are suppressed and counted; when the window closes, the
count becomes one ``Repeat`` (the "repeated N times in W s" line). Records at or above
``always_level`` (ERROR) always pass. Nothing is ever dropped without being counted, and
``close()`` hands back every pending count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

ERROR_LEVEL_NO = 40
OVERFLOW_KEY = "<other>"

R = TypeVar("R")


@dataclass(slots=True)
class KeyStats:
    """Counters of one key."""

    emitted: int = 0
    suppressed: int = 0
    aggregated_lines: int = 0


@dataclass(slots=True)
class Repeat:
    """One aggregated line to write: ``count`` records of ``key`` were suppressed."""

    key: Hashable
    site: Any
    """What the caller stored about the first suppressed record (where to write the line)."""
    message: str
    """The last suppressed message."""
    count: int
    span: float
    """Seconds from the line that opened the window to the last suppressed repeat."""


@dataclass(slots=True)
class _Window:
    start: float
    count: int = 0
    last_at: float = 0.0
    message: str | tuple[Any, tuple[Any, ...]] = ""
    """The last suppressed message: its text, or (template, args) formatted at fold time."""
    site: Any = None
    stats: KeyStats = field(default_factory=KeyStats)


def _text(message: str | tuple[Any, tuple[Any, ...]]) -> str:
    """A suppressed message as text (a template is formatted only here, once per window)."""
    if isinstance(message, str):
        return message
    template, args = message
    if not args:
        return str(template)
    try:
        return str(template).format(*args)
    except (IndexError, KeyError, ValueError, AttributeError):
        return f"{template} {args!r}"


class RateLimiter(Generic[R]):
    """Decides, per key, whether a record is written; keeps per-key counters.

    ``site_of(record)`` is called once per window, on its first suppressed record, to remember
    where the aggregated line belongs. Thread-safe: records may arrive from any thread.
    """

    def __init__(
        self,
        window: float,
        *,
        time_source: Callable[[], float],
        site_of: Callable[[R], Any],
        always_level: int = ERROR_LEVEL_NO,
        max_keys: int = 10000,
    ) -> None:
        self.window = window
        self.always_level = always_level
        self.max_keys = max_keys
        self.time_source = time_source
        self._site_of = site_of
        self._lock = threading.Lock()
        self._windows: dict[Hashable, _Window] = {}
        self._stats: dict[Hashable, KeyStats] = {}
        self.emitted = 0
        self.suppressed = 0
        self.aggregated_lines = 0
        self.closed = False

    def _stats_for(self, key: Hashable) -> KeyStats:
        stats = self._stats.get(key)
        if stats is None:
            if len(self._stats) >= self.max_keys:
                key = OVERFLOW_KEY
                stats = self._stats.get(key)
            if stats is None:
                stats = self._stats[key] = KeyStats()
        return stats

    def admit(
        self, key: Hashable, levelno: int, message: str, record: R
    ) -> tuple[bool, Repeat | None]:
        """Whether to write this record, and the aggregated line of a window it just closed."""
        with self._lock:
            if levelno >= self.always_level or self.closed:
                self._stats_for(key).emitted += 1
                self.emitted += 1
                return True, None
            now = self.time_source()
            window = self._windows.get(key)
            repeat = None
            if window is not None:
                if now - window.start < self.window:
                    if window.count == 0:
                        window.site = self._site_of(record)
                    window.count += 1
                    window.last_at = now
                    window.message = message
                    window.stats.suppressed += 1
                    self.suppressed += 1
                    return False, None
                repeat = self._fold(key, window)
                stats = window.stats
            else:
                stats = self._stats_for(key)
            self._windows[key] = _Window(start=now, stats=stats)
            stats.emitted += 1
            self.emitted += 1
            return True, repeat

    def suppress_early(
        self,
        key: Hashable,
        template: Any,
        args: tuple[Any, ...],
        site: Callable[[], Any],
    ) -> bool:
        """Suppress and count a record of ``key`` before it is built, if its window is open.

        The cheap path in front of the logging library: True means the record is suppressed
        and counted exactly as ``admit`` would have (its message is kept as ``template`` and
        ``args``, formatted only for the aggregated line; ``site()`` is called on the window's
        first suppressed record). False means nothing was counted: build the record and let
        ``admit`` decide (no window, a window that has run out, or the limiter is closed).
        """
        with self._lock:
            window = self._windows.get(key)
            if window is None or self.closed:
                return False
            now = self.time_source()
            if now - window.start >= self.window:
                return False
            if window.count == 0:
                window.site = site()
            window.count += 1
            window.last_at = now
            window.message = (template, args)
            window.stats.suppressed += 1
            self.suppressed += 1
            return True

    def _fold(self, key: Hashable, window: _Window) -> Repeat | None:
        if window.count == 0:
            return None
        window.stats.aggregated_lines += 1
        self.aggregated_lines += 1
        return Repeat(
            key=key,
            site=window.site,
            message=_text(window.message),
            count=window.count,
            span=window.last_at - window.start,
        )

    def flush_expired(self) -> list[Repeat]:
        """Close every window older than ``window`` seconds; their aggregated lines."""
        now = self.time_source()
        out: list[Repeat] = []
        with self._lock:
            expired = [k for k, w in self._windows.items() if now - w.start >= self.window]
            for key in expired:
                repeat = self._fold(key, self._windows.pop(key))
                if repeat is not None:
                    out.append(repeat)
        return out

    def close(self) -> list[Repeat]:
        """Close every window (shutdown) and let everything through from now on."""
        out: list[Repeat] = []
        with self._lock:
            self.closed = True
            for key, window in self._windows.items():
                repeat = self._fold(key, window)
                if repeat is not None:
                    out.append(repeat)
            self._windows.clear()
        return out

    def pending(self) -> int:
        """Suppressed records not yet folded into an aggregated line."""
        with self._lock:
            return sum(w.count for w in self._windows.values())

    def per_key(self, describe: Callable[[Hashable], str] = str) -> dict[str, KeyStats]:
        """A snapshot of the per-key counters, keys turned into text by ``describe``."""
        with self._lock:
            return {
                (k if isinstance(k, str) else describe(k)): KeyStats(
                    s.emitted, s.suppressed, s.aggregated_lines
                )
                for k, s in self._stats.items()
            }
