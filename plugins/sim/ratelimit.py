"""Request-weight and order-count limits: fixed windows, 429 then 418 with ``Retry-After``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import BinanceError

MAX_BAN_SECONDS = 3 * 24 * 3600


@dataclass(slots=True)
class _IpState:
    window: int = -1
    used: int = 0
    strikes: int = 0
    banned_until: float = 0.0
    bans: int = 0


class RateLimiter:
    """Per-IP weight per minute (with auto-ban) and per-account order counts per 10 s and 1 min."""

    def __init__(
        self,
        weight_limit: int,
        orders_10s: int,
        orders_1m: int,
        *,
        strikes: int,
        ban_seconds: float,
    ) -> None:
        self.weight_limit = weight_limit
        self.orders_10s = orders_10s
        self.orders_1m = orders_1m
        self.strikes = strikes
        self.ban_seconds = ban_seconds
        self._ips: dict[str, _IpState] = {}
        self._orders: dict[int, dict[int, int]] = {10: {}, 60: {}}

    def _state(self, ip: str, now: float) -> _IpState:
        state = self._ips.setdefault(ip, _IpState())
        window = int(now // 60)
        if window != state.window:
            state.window = window
            state.used = 0
            state.strikes = 0
        return state

    def used_weight(self, ip: str, now: float) -> int:
        """Weight used by ``ip`` in the current minute."""
        return self._state(ip, now).used

    def burst(self, ip: str, now: float) -> None:
        """Use up the rest of the minute's weight, as another process on the same IP would."""
        state = self._state(ip, now)
        state.used = max(state.used, self.weight_limit)

    def charge(self, ip: str, weight: int, now: float) -> int:
        """Count a request's weight; raise 429 over the limit and 418 when the client keeps on."""
        state = self._state(ip, now)
        if state.banned_until > now:
            raise self._banned(state, now)
        state.used += weight
        if state.used <= self.weight_limit:
            return state.used
        if state.strikes >= self.strikes:
            seconds = min(self.ban_seconds * 2**state.bans, MAX_BAN_SECONDS)
            state.banned_until = now + seconds
            state.bans += 1
            raise self._banned(state, now)
        state.strikes += 1
        retry = max(1, math.ceil((state.window + 1) * 60 - now))
        raise BinanceError(
            429,
            -1003,
            f"Too many requests; current limit of IP({ip}) is {self.weight_limit} requests per "
            "minute. Please use the websocket for live updates to avoid polling the API.",
            retry_after=retry,
        )

    def _banned(self, state: _IpState, now: float) -> BinanceError:
        until_ms = int(state.banned_until * 1000)
        return BinanceError(
            418,
            -1003,
            f"Way too much request weight used; IP banned until {until_ms}. "
            "Please use the websocket for live updates to avoid bans.",
            retry_after=max(1, math.ceil(state.banned_until - now)),
        )

    def order_counts(self, now: float) -> tuple[int, int]:
        """Orders placed in the current 10-second and 1-minute windows."""
        return (
            self._orders[10].get(int(now // 10), 0),
            self._orders[60].get(int(now // 60), 0),
        )

    def count_order(self, now: float) -> tuple[int, int]:
        """Count a new order; raise 429 ``-1015`` when either order limit is exceeded."""
        for seconds, limit, label in (
            (10, self.orders_10s, "TEN_SECONDS"),
            (60, self.orders_1m, "MINUTE"),
        ):
            window = int(now // seconds)
            counts = self._orders[seconds]
            if counts.get(window, 0) >= limit:
                retry = max(1, math.ceil((window + 1) * seconds - now))
                raise BinanceError(
                    429,
                    -1015,
                    f"Too many new orders; current limit is {limit} orders per {label}.",
                    retry_after=retry,
                )
        for seconds in (10, 60):
            window = int(now // seconds)
            counts = self._orders[seconds]
            if window not in counts:
                counts.clear()
            counts[window] = counts.get(window, 0) + 1
        return self.order_counts(now)
