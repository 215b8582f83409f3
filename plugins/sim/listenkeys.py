"""The account's listenKey: one active key, extended by POST/PUT, gone on DELETE or expiry."""

from __future__ import annotations

import random
import string

from .errors import BinanceError

_ALPHABET = string.ascii_letters + string.digits


def unknown_listen_key() -> BinanceError:
    """-1125 for a key that does not exist (any more)."""
    return BinanceError(
        400,
        -1125,
        "This listenKey does not exist. Please use POST /fapi/v1/listenKey to recreate listenKey",
    )


class ListenKeys:
    """Tracks the one active listenKey of the account and when it expires (server ms)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"{seed}:listenkey")
        self.active: str | None = None
        self.expires_at = 0

    def create(self, now: int, validity_ms: int) -> str:
        """Return the active key (extended) or a new one."""
        if self.active is None or now >= self.expires_at:
            self.active = "".join(self._rng.choice(_ALPHABET) for _ in range(64))
        self.expires_at = now + validity_ms
        return self.active

    def keepalive(self, key: str | None, now: int, validity_ms: int) -> str:
        """Extend the active key; -1125 if ``key`` is given and is not the active one."""
        active = self.valid(now)
        if active is None or (key and key != active):
            raise unknown_listen_key()
        self.expires_at = now + validity_ms
        return active

    def delete(self, key: str | None, now: int) -> str:
        """Invalidate the active key; -1125 if there is none or ``key`` is another one."""
        active = self.valid(now)
        if active is None or (key and key != active):
            raise unknown_listen_key()
        self.active = None
        return active

    def valid(self, now: int) -> str | None:
        """The active key if it has not expired."""
        if self.active is not None and now < self.expires_at:
            return self.active
        return None

    def expire_due(self, now: int) -> str | None:
        """Drop the active key if its time is up and return it (so ``listenKeyExpired`` is sent)."""
        if self.active is not None and now >= self.expires_at:
            key, self.active = self.active, None
            return key
        return None

    def force_expire(self) -> str | None:
        """Expire the active key now (fault injection); return it if there was one."""
        key, self.active = self.active, None
        return key
