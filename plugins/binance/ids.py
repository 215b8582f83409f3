"""Client order ids: ``<prefix>-<owner>-<n>``, unique per strategy instance, found again later.

* ``prefix`` is ``plugins.binance.order_id_prefix`` (default ``tl``), ``owner`` the strategy
  instance id (``strategies[].id``; ``bot`` for orders placed outside a strategy), ``n`` a
  decimal counter per owner. Example: ``tl-meanrev1-42``.
* Binance allows ``^[.A-Z:/a-z0-9_-]{1,36}$``. An owner id that would make the id longer than 36
  characters is shortened to its first 12 characters plus 6 hex digits of its SHA-1, so it stays
  stable across restarts.
* After a restart the counter continues above the highest ``n`` seen for that owner: the
  connector feeds every id it sees (open orders at start, the user-data stream, REST answers) to
  ``observe``; with a ``state_file`` the counter is also reserved in blocks of ``block`` ids
  (write-ahead), so even orders that were closed while the bot was down are never re-used.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import orjson

MAX_LEN = 36
ALLOWED = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_OWNER_SAFE = re.compile(r"[^A-Za-z0-9_.]")


class ClientOrderIds:
    """Hands out and recognises client order ids."""

    def __init__(self, prefix: str = "tl", *, state_file: Path | None = None, block: int = 100):
        self.prefix = prefix
        self._next: dict[str, int] = {}
        self._reserved: dict[str, int] = {}
        self._state_file = state_file
        self._block = block
        self._owners: dict[str, str] = {}  # short owner tag -> owner
        if state_file is not None and state_file.is_file():
            try:
                saved = orjson.loads(state_file.read_bytes())
            except orjson.JSONDecodeError:
                saved = {}
            if isinstance(saved, dict):
                for tag, value in saved.items():
                    if isinstance(tag, str) and isinstance(value, int):
                        self._next[tag] = value
                        self._reserved[tag] = value

    def tag(self, owner: str) -> str:
        """The owner part of an id for ``owner`` (shortened and hashed if too long)."""
        safe = _OWNER_SAFE.sub("_", owner) or "bot"
        room = MAX_LEN - len(self.prefix) - 2 - 8  # two dashes, up to 8 counter digits
        if len(safe) > room:
            digest = hashlib.sha1(owner.encode()).hexdigest()[:6]
            safe = f"{safe[: room - 7]}.{digest}"
        self._owners[safe] = owner
        return safe

    def next(self, owner: str) -> str:
        """A new id for ``owner``."""
        tag = self.tag(owner)
        n = self._next.get(tag, 1)
        self._next[tag] = n + 1
        if self._state_file is not None and n + 1 > self._reserved.get(tag, 0):
            self._reserved[tag] = n + self._block
            self._save()
        return f"{self.prefix}-{tag}-{n}"

    def parse(self, client_order_id: str) -> tuple[str, int] | None:
        """``(owner tag, n)`` for one of our ids, else ``None``."""
        head, sep, rest = client_order_id.partition("-")
        if not sep or head != self.prefix:
            return None
        tag, sep, number = rest.rpartition("-")
        if not sep or not tag or not number.isdigit():
            return None
        return tag, int(number)

    def owner_of(self, client_order_id: str) -> str | None:
        """The strategy instance an id belongs to (its tag if the owner was never seen)."""
        parsed = self.parse(client_order_id)
        if parsed is None:
            return None
        return self._owners.get(parsed[0], parsed[0])

    def observe(self, client_order_id: str) -> None:
        """Move the counter past an id seen on the exchange, so it is never handed out again."""
        parsed = self.parse(client_order_id)
        if parsed is None:
            return
        tag, n = parsed
        if n + 1 > self._next.get(tag, 1):
            self._next[tag] = n + 1

    def _save(self) -> None:
        assert self._state_file is not None
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(self._reserved))
        tmp.replace(self._state_file)
