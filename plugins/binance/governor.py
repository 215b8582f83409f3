"""Rate-limit governor: reads Binance's usage headers and decides when a request may go.

* ``X-MBX-USED-WEIGHT-1M`` (IP weight) and ``X-MBX-ORDER-COUNT-10S``/``-1M`` (account orders)
  are read from every answer (header names are case-insensitive; negative values mean unknown).
* Above ``slow_down_at`` of a limit, requests are paced out over the rest of the window; above
  ``stop_at`` they wait for the window to roll over. So the 429 is avoided, not provoked.
* On 429 nothing is sent until ``Retry-After`` (or the next minute) has passed; on 418 nothing
  is sent until the ban expires (``Retry-After`` or the "banned until" time in the message).
* A wait longer than ``max_rate_wait`` fails fast with ``RateLimitWaitTooLong``: the caller
  decides, instead of an order sitting in a queue for minutes.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .config import BinanceConfig
from .errors import RateLimitWaitTooLong

_BANNED_UNTIL = re.compile(r"banned until (\d{10,16})")


@dataclass(slots=True)
class GovernorStats:
    """Counters for the run summary."""

    throttled: int = 0
    paced_s: float = 0.0
    http_429: int = 0
    http_418: int = 0
    refused: int = 0
    last_weight: int = 0
    max_weight: int = 0
    windows: dict[str, int] = field(default_factory=dict)


class RateGovernor:
    """Shared by every request of one REST client (one IP budget)."""

    def __init__(
        self,
        config: BinanceConfig,
        *,
        server_time: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._server_time = server_time  # seconds, offset-corrected (window boundaries)
        self._monotonic = monotonic
        self._weight = 0
        self._weight_window = -1
        self._orders_10s = 0
        self._orders_10s_window = -1
        self._orders_1m = 0
        self._orders_1m_window = -1
        self._blocked_until = 0.0  # monotonic
        self._blocked_reason = ""
        self.stats = GovernorStats()
        self.on_block: Callable[[str, float], None] | None = None
        """Called with (reason, seconds) when a 429/418 starts a block (the plugin alerts)."""

    # ------------------------------------------------------------------ before a request

    def delay_for(self, weight: int, order: bool) -> tuple[float, str]:
        """Seconds to wait before a request of ``weight`` (and an order, if ``order``) may go."""
        now_mono = self._monotonic()
        if self._blocked_until > now_mono:
            return self._blocked_until - now_mono, self._blocked_reason
        now = self._server_time()
        delay, reason = self._window_delay(
            now,
            60,
            self._current(self._weight, self._weight_window, now, 60) + weight,
            self.config.weight_limit_1m,
            "request weight",
        )
        if order:
            for seconds, used, window, limit in (
                (10, self._orders_10s, self._orders_10s_window, self.config.order_limit_10s),
                (60, self._orders_1m, self._orders_1m_window, self.config.order_limit_1m),
            ):
                d, r = self._window_delay(
                    now,
                    seconds,
                    self._current(used, window, now, seconds) + 1,
                    limit,
                    f"orders per {seconds} s",
                )
                if d > delay:
                    delay, reason = d, r
        return delay, reason

    @staticmethod
    def _current(used: int, window: int, now: float, seconds: int) -> int:
        return used if int(now // seconds) == window else 0

    def _window_delay(
        self, now: float, seconds: int, projected: int, limit: int, what: str
    ) -> tuple[float, str]:
        left = (math.floor(now / seconds) + 1) * seconds - now
        if projected >= limit * self.config.stop_at:
            return (
                left + 0.05,
                f"{what} near the limit ({projected}/{limit}), waiting for the window",
            )
        slow_at = limit * self.config.slow_down_at
        if projected >= slow_at:
            remaining = max(1.0, limit * self.config.stop_at - projected)
            return left / remaining, f"{what} above {self.config.slow_down_at:.0%}, pacing"
        return 0.0, ""

    async def acquire(self, weight: int, *, order: bool, request: str) -> None:
        """Wait until a request may go; raise ``RateLimitWaitTooLong`` rather than wait long.

        The total wait is bounded too, so a clock that does not move (a frozen test clock)
        cannot keep a request waiting forever.
        """
        waited = 0.0
        while True:
            delay, reason = self.delay_for(weight, order)
            if delay <= 0:
                break
            if delay > self.config.max_rate_wait or waited + delay > self.config.max_rate_wait:
                self.stats.refused += 1
                raise RateLimitWaitTooLong(request, delay, reason)
            waited += delay
            self.stats.throttled += 1
            self.stats.paced_s += delay
            await asyncio.sleep(delay)
        self._charge(weight, order)

    def _charge(self, weight: int, order: bool) -> None:
        """Count the request locally until the server's headers say otherwise."""
        now = self._server_time()
        window = int(now // 60)
        if window != self._weight_window:
            self._weight_window, self._weight = window, 0
        self._weight += weight
        if order:
            w10 = int(now // 10)
            if w10 != self._orders_10s_window:
                self._orders_10s_window, self._orders_10s = w10, 0
            self._orders_10s += 1
            if window != self._orders_1m_window:
                self._orders_1m_window, self._orders_1m = window, 0
            self._orders_1m += 1

    # ------------------------------------------------------------------- after an answer

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the server's counts from an answer's headers."""
        now = self._server_time()
        weight = _int_header(headers, "X-MBX-USED-WEIGHT-1M")
        if weight is not None:
            self._weight_window, self._weight = int(now // 60), weight
            self.stats.last_weight = weight
            self.stats.max_weight = max(self.stats.max_weight, weight)
        count_10s = _int_header(headers, "X-MBX-ORDER-COUNT-10S")
        if count_10s is not None:
            self._orders_10s_window, self._orders_10s = int(now // 10), count_10s
        count_1m = _int_header(headers, "X-MBX-ORDER-COUNT-1M")
        if count_1m is not None:
            self._orders_1m_window, self._orders_1m = int(now // 60), count_1m

    def on_rate_limited(self, status: int, retry_after: float | None, msg: str) -> float:
        """Record a 429 or 418 and block every request until it has passed; return the wait."""
        now = self._server_time()
        if status == 418:
            self.stats.http_418 += 1
            wait = retry_after
            match = _BANNED_UNTIL.search(msg)
            if match:
                wait = max(wait or 0.0, int(match.group(1)) / 1000 - now)
            wait = max(wait or 0.0, 1.0)
            reason = "IP banned (418)"
        else:
            self.stats.http_429 += 1
            wait = retry_after if retry_after else (math.floor(now / 60) + 1) * 60 - now
            reason = "rate limited (429)"
        until = self._monotonic() + wait
        if until > self._blocked_until:
            started = self._blocked_until <= self._monotonic()
            self._blocked_until = until
            self._blocked_reason = reason
            if started and self.on_block is not None:
                self.on_block(reason, wait)
        return wait

    @property
    def blocked_for(self) -> float:
        """Seconds until requests may be sent again after a 429/418 (0 if not blocked)."""
        return max(0.0, self._blocked_until - self._monotonic())

    @property
    def used_weight(self) -> int:
        """The weight used in the current minute, as last known."""
        return self._current(self._weight, self._weight_window, self._server_time(), 60)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively (aiohttp's headers already are; plain dicts not)."""
    raw = headers.get(name)
    return raw if raw is not None else headers.get(name.lower())


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = _header(headers, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` header in seconds, if present and numeric."""
    raw = _header(headers, "Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None
