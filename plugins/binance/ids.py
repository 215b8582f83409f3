"""Client order ids: ``<prefix>-<owner>-<run>-<n>``, never repeated, their owner found again.

* ``prefix`` is ``plugins.binance.order_id_prefix`` (default ``tl``), ``owner`` the strategy
  instance id (``strategies[].id``; ``bot`` for orders placed outside a strategy), ``run`` the
  exchange's clock in milliseconds when this process handed out its first id, in base 36, and
  ``n`` a counter per owner within the run, in base 36. Example: ``tl-meanrev1-mi9k2x1c-1f``.
* Nothing is saved: a later run starts at a later exchange time, so its ``run`` differs from
  every earlier one and its ids cannot repeat theirs, whatever happened to the host in between.
  ``observe`` (fed every id seen on the exchange before the first id is handed out) moves the
  ``run`` past any later one it sees, should the clock be behind an earlier run's.
* Binance allows ``^[.A-Z:/a-z0-9_-]{1,36}$``. An owner id that would not fit is shortened to
  its first characters plus ``.`` and 6 hex digits of its SHA-1, the same in every run, so
  ``owner_of`` still maps ids of earlier runs to their owner once that owner asked for ids.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable

MAX_LEN = 36
ALLOWED = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_OWNER_SAFE = re.compile(r"[^A-Za-z0-9_.]")
_PREFIX = re.compile(r"^[A-Za-z0-9]{1,6}$")
RUN_CHARS = 9  # room kept for ``run``: 8 base-36 digits until 2059, 9 for millennia
N_CHARS = 6  # room kept for ``n``: 36**6 - 1 (2.2 billion) ids per owner and run
_N_MAX = 36**N_CHARS - 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(value: int) -> str:
    """``value`` (>= 0) in lower-case base 36."""
    if value == 0:
        return "0"
    out: list[str] = []
    while value:
        value, digit = divmod(value, 36)
        out.append(_DIGITS[digit])
    return "".join(reversed(out))


def _wall_ms() -> int:
    return int(time.time() * 1000)


class ClientOrderIds:
    """Hands out and recognises client order ids."""

    def __init__(self, prefix: str = "tl", *, now_ms: Callable[[], int] = _wall_ms) -> None:
        if not _PREFIX.match(prefix):
            raise ValueError(f"client order id prefix {prefix!r}: 1-6 letters or digits")
        self.prefix = prefix
        self._room = MAX_LEN - len(prefix) - 3 - RUN_CHARS - N_CHARS  # three dashes
        self._ours = re.compile(
            rf"^{prefix}-([A-Za-z0-9_.]+)-([0-9a-z]{{1,{RUN_CHARS}}})-([0-9a-z]{{1,{N_CHARS}}})$"
        )
        self._now_ms = now_ms
        self._run: int | None = None  # fixed by the first ``next``
        self._run_text = ""
        self._run_marker = ""
        self._latest_seen = -1  # the latest ``run`` seen on the exchange before that
        self._next: dict[str, int] = {}  # owner tag -> next n in this run
        self._owners: dict[str, str] = {}  # owner tag -> owner

    @property
    def run(self) -> int | None:
        """This run's time component (exchange ms), once the first id was handed out."""
        return self._run

    def tag(self, owner: str) -> str:
        """The owner part of an id for ``owner`` (shortened and hashed if too long)."""
        safe = _OWNER_SAFE.sub("_", owner) or "bot"
        if len(safe) > self._room:
            digest = hashlib.sha1(owner.encode()).hexdigest()[:6]
            safe = f"{safe[: self._room - 7]}.{digest}"
        self._owners[safe] = owner
        return safe

    def next(self, owner: str) -> str:
        """A new id for ``owner``, never handed out before by this or any earlier run."""
        tag = self.tag(owner)
        if self._run is None:
            self._start_run(self._latest_seen + 1)
        n = self._next.get(tag, 1)
        if n > _N_MAX:  # 2.2 billion ids of one owner: a new run, every counter from 1
            self._start_run((self._run or 0) + 1)
            n = 1
        self._next[tag] = n + 1
        return f"{self.prefix}-{tag}-{self._run_text}-{base36(n)}"

    def parse(self, client_order_id: str) -> tuple[str, int, int] | None:
        """``(owner tag, run, n)`` for one of our ids, else ``None``."""
        match = self._ours.match(client_order_id)
        if match is None:
            return None
        tag, run, n = match.groups()
        return tag, int(run, 36), int(n, 36)

    def owner_of(self, client_order_id: str) -> str | None:
        """The strategy instance an id belongs to (its tag if that owner was not seen yet).

        Ids of the earlier ``<prefix>-<owner>-<n>`` form are recognised too.
        """
        parts = client_order_id.split("-")
        if parts[0] != self.prefix or not (
            len(parts) == 4 or (len(parts) == 3 and parts[2].isdigit())
        ):
            return None
        tag = parts[1]
        if not tag:
            return None
        return self._owners.get(tag, tag)

    def observe(self, client_order_id: str) -> None:
        """Note an id seen on the exchange, so this run's ids stay clear of it."""
        if self._run is not None and self._run_marker not in client_order_id:
            return  # the usual case once ids are handed out: cheap on every order event
        parsed = self.parse(client_order_id)
        if parsed is None:
            return
        tag, run, n = parsed
        if self._run is None:
            self._latest_seen = max(self._latest_seen, run)
        elif run == self._run and n >= self._next.get(tag, 1):
            self._next[tag] = n + 1  # another process on the same millisecond: step past it

    def _start_run(self, at_least: int) -> None:
        self._run = max(self._now_ms(), at_least)
        self._run_text = base36(self._run)
        self._run_marker = f"-{self._run_text}-"
        self._next.clear()
