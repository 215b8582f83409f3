"""``BatchWriter``: buffers journal records and writes them in batches, off the hot path.

Hook handlers only append to an in-memory queue (microseconds); a background task writes the
queue through the store every ``flush_interval`` seconds or as soon as ``batch_size`` records
wait. ``flush()`` returns once everything added before it is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from loguru import logger

from .records import Record
from .store import JournalStore

RETRY_CAP = 5.0


class BatchWriter:
    """A queue of records in front of a ``JournalStore``; one transaction per batch."""

    def __init__(
        self,
        store: JournalStore,
        *,
        flush_interval: float = 0.5,
        batch_size: int = 500,
        max_pending: int = 200_000,
    ) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_pending = max_pending
        self._pending: deque[Record] = deque()
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.written = 0
        self.batches = 0
        self.dropped = 0
        self.failures = 0

    @property
    def pending(self) -> int:
        """Records accepted but not committed yet (queued, or in a write not finished)."""
        return len(self._pending) + self._in_flight

    def add(self, record: Record) -> None:
        """Accept a record (never blocks); it is committed within ``flush_interval``."""
        self._pending.append(record)
        size = len(self._pending)
        if size >= self.batch_size:
            self._wake.set()
        if size > self.max_pending:
            self._pending.popleft()
            self.dropped += 1
            if self.dropped in (1, 10, 100, 1000) or self.dropped % 10_000 == 0:
                logger.bind(plugin="journal").error(
                    "journal {} is not keeping up: {} records dropped so far",
                    self.store.location,
                    self.dropped,
                )

    async def flush(self) -> None:
        """Commit every pending record; on error they stay pending and the error is raised."""
        async with self._lock:
            while self._pending:
                count = min(len(self._pending), self.batch_size)
                batch = [self._pending.popleft() for _ in range(count)]
                self._in_flight = count
                try:
                    await self.store.write(batch)
                except BaseException:
                    self._pending.extendleft(reversed(batch))
                    raise
                finally:
                    self._in_flight = 0
                self.written += count
                self.batches += 1

    async def run(self) -> None:
        """Flush every ``flush_interval`` or when a batch is full, until cancelled."""
        delay = self.flush_interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - the journal keeps trying; records wait
                self.failures += 1
                delay = min(RETRY_CAP, delay * 2)
                logger.bind(plugin="journal").opt(exception=exc).error(
                    "journal {}: write failed ({!r}); {} records wait, retry in {:.1f} s",
                    self.store.location,
                    exc,
                    len(self._pending),
                    delay,
                )
            else:
                delay = self.flush_interval
