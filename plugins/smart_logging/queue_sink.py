"""A loguru sink that never waits for I/O: each line goes to a queue, a thread writes it.

loguru's ``enqueue=True`` pickles every record through a multiprocessing pipe (~60 µs per line
here); a ``queue.SimpleQueue`` hand-off costs well under a microsecond on the logging thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class QueueSink:
    """Give ``write`` a formatted line; a daemon thread passes it to ``writer``.

    loguru calls ``write`` (any thread) and ``stop`` (when the handler is removed: everything
    queued is written first, then ``close`` runs). ``drain()`` waits until the queue is written.
    """

    def __init__(
        self,
        writer: Callable[[str], Any],
        *,
        name: str,
        flush: Callable[[], Any] | None = None,
        close: Callable[[], Any] | None = None,
        isatty: Callable[[], bool] | None = None,
    ) -> None:
        self._writer = writer
        self._flush = flush
        self._close = close
        self._isatty = isatty
        self._queue: queue.SimpleQueue[str | threading.Event | None] = queue.SimpleQueue()
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def write(self, message: str) -> None:
        """Queue one formatted line (never blocks)."""
        self._queue.put(message)

    def isatty(self) -> bool:
        """Whether the target is a terminal (loguru asks, to decide on colours)."""
        return self._isatty() if self._isatty is not None else False

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every line queued so far is written; False if ``timeout`` ran out."""
        if not self._thread.is_alive():
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def stop(self) -> None:
        """Write what is queued, end the thread, close the target."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._close is not None:
            self._close()
            self._close = None

    def _run(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                break
            if isinstance(item, threading.Event):
                self._flush_target()
                item.set()
                continue
            try:
                self._writer(item)
            except Exception:  # noqa: BLE001 - a broken target must not kill the writer
                self.errors += 1
            if self._queue.empty():
                self._flush_target()
        self._flush_target()

    def _flush_target(self) -> None:
        if self._flush is None:
            return
        try:
            self._flush()
        except Exception:  # noqa: BLE001
            self.errors += 1
