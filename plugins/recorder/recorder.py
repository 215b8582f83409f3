"""The flight recorder: a ``FrameTap`` that buffers raw frames on the loop and a thread that
writes them (``format``), rotated by size, secrets left out.

On the loop, per frame: one tuple appended to a ``deque`` (the kind, the stream, the bot's clock,
``time.monotonic_ns()``, the bytes). A writer thread wakes every ``flush_interval``, takes what
is there, masks listenKeys and writes compressed blocks; the loop never waits on the disk.

Not recorded: the API key (a header the connector adds; the tap never sees it), signatures
(added to the query string only, after the parameters the tap gets), listenKeys (each replaced
by ``listenkey-<n>``, the same text for the same key within a run, in REST answers, parameters
and stream events).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from .format import FRAME, MAGIC, REST, STATE, STOP, SUFFIX, VERSION, Header, Outcome, encode_block
from .settings import RecorderSettings

LISTEN_KEY_JSON = re.compile(rb'"listenKey"\s*:\s*"([^"]*)"')
LISTEN_KEY_PARAM = "listenKey"


@dataclass
class RecorderStats:
    """Counts for the run summary."""

    frames: int = 0
    rest: int = 0
    records: int = 0
    blocks: int = 0
    bytes_written: int = 0
    files: int = 0
    overflows: int = 0
    write_errors: int = 0


class ListenKeyMask:
    """Replaces every listenKey by ``listenkey-<n>`` (the same key, the same text)."""

    def __init__(self) -> None:
        self._names: dict[bytes, bytes] = {}

    def name(self, key: bytes) -> bytes:
        """The stand-in for ``key``."""
        if not key:
            return key
        known = self._names.get(key)
        if known is None:
            known = self._names[key] = b"listenkey-%d" % (len(self._names) + 1)
        return known

    def bytes(self, data: bytes) -> bytes:
        """``data`` with every ``"listenKey":"..."`` value masked."""
        if b"listenKey" not in data:
            return data
        return LISTEN_KEY_JSON.sub(lambda m: b'"listenKey":"' + self.name(m[1]) + b'"', data)

    def params(self, params: Mapping[str, str]) -> dict[str, str]:
        """``params`` with a ``listenKey`` parameter masked."""
        out = dict(params)
        if LISTEN_KEY_PARAM in out:
            out[LISTEN_KEY_PARAM] = self.name(out[LISTEN_KEY_PARAM].encode()).decode()
        return out


class Recorder:
    """Buffers what the connector receives and writes it from a thread (see the module doc)."""

    def __init__(
        self,
        config: RecorderSettings,
        directory: Path,
        *,
        clock: Callable[[], float],
        settings: Mapping[str, Any],
        version: str,
    ) -> None:
        self.config = config
        self.directory = directory
        self.run = ""  # named at ``start``
        self._clock = clock
        self._settings = dict(settings)
        self._version = version
        self._queue: deque[Any] = deque(maxlen=config.max_buffered)
        self._mask = ListenKeyMask()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._file: Any = None
        self._size = 0
        self.part = -1
        self.paths: list[Path] = []
        self.stats = RecorderStats()

    # --------------------------------------------------------------------- FrameTap

    def stream_frames(self, stream: str) -> Callable[[bytes], None]:
        """The per-message callable for ``stream``: one append, no I/O."""
        append = self._queue.append
        now = self._clock
        mono = time.monotonic_ns

        def record(data: bytes) -> None:
            append((FRAME, stream, now(), mono(), data))

        return record

    def rest_sent(self) -> float:
        """The bot's clock as the request leaves."""
        return self._clock()

    def rest_answered(
        self,
        stamp: float,
        method: str,
        path: str,
        params: Mapping[str, str],
        status: int,
        body: bytes,
    ) -> None:
        """Queue one REST answer (masked in the writer thread)."""
        self._queue.append(
            (REST, stamp, self._clock(), time.monotonic_ns(), method, path, params, status, body)
        )

    # ---------------------------------------------------------------- other records

    def state(self, stream: str, state: str, reason: str, resync: bool) -> None:
        """Queue a stream's state change."""
        self._queue.append(
            (STATE, self._clock(), time.monotonic_ns(), stream, state, reason, resync)
        )

    def stop_marker(self) -> None:
        """Queue the point where the bot began to stop."""
        self._queue.append((STOP, self._clock(), time.monotonic_ns()))

    def outcome(self, outcome: dict[str, Any]) -> None:
        """Queue the run's outcome (the last record)."""
        self._queue.append(Outcome(at=self._clock(), outcome=outcome))

    # ----------------------------------------------------------------------- life

    def start(self) -> None:
        """Open the first part and start the writer thread (blocks: call it off the loop)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.run = run_name(self._clock(), self.directory)
        self._open_part()
        self._thread = threading.Thread(
            target=self._run, name=f"tradeloop-recorder-{self.run}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Write what is left and close the file (blocks: call it off the loop)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _run(self) -> None:
        interval = self.config.flush_interval
        while True:
            self._wake.wait(interval)
            self._wake.clear()
            stopping = self._stopping
            try:
                self._write_pending()
            except OSError as exc:
                self.stats.write_errors += 1
                logger.error("recorder: writing {} failed: {}", self._path(self.part), exc)
                if stopping:
                    return
                time.sleep(interval)
            if stopping:
                return

    def _write_pending(self) -> None:
        queue = self._queue
        if len(queue) >= self.config.max_buffered:
            self.stats.overflows += 1
            logger.error(
                "recorder: {:,} records waiting, the limit (plugins.recorder.max_buffered): "
                "the oldest are lost; the disk is too slow for this rate",
                len(queue),
            )
        limit = self.config.block_records
        while queue:
            batch: list[Any] = []
            popleft = queue.popleft
            try:
                while len(batch) < limit:
                    batch.append(self._masked(popleft()))
            except IndexError:
                pass
            self._write_block(batch)

    def _masked(self, record: Any) -> Any:
        if type(record) is tuple:
            kind = record[0]
            if kind == FRAME:
                self.stats.frames += 1
                data = record[4]
                if b"listenKey" in data:
                    return (*record[:4], self._mask.bytes(data))
            elif kind == REST:
                self.stats.rest += 1
                body = record[8]
                return (
                    *record[:6],
                    self._mask.params(record[6]),
                    record[7],
                    self._mask.bytes(body) if isinstance(body, bytes) else body,
                )
        return record

    def _write_block(self, batch: list[Any]) -> None:
        block = encode_block(batch, self.config.compress_level)
        if self._size + len(block) > self.config.max_file_bytes and self._size > len(MAGIC) + 512:
            self._file.close()
            self._open_part()
        self._file.write(block)
        self._file.flush()
        self._size += len(block)
        self.stats.blocks += 1
        self.stats.records += len(batch)
        self.stats.bytes_written += len(block)

    def _path(self, part: int) -> Path:
        return self.directory / f"{self.run}.{part}{SUFFIX}"

    def _open_part(self) -> None:
        self.part += 1
        path = self._path(self.part)
        self._file = path.open("xb")
        header = Header(
            version=VERSION,
            tradeloop=self._version,
            run=self.run,
            part=self.part,
            at=self._clock(),
            mono_ns=time.monotonic_ns(),
            settings=self._settings,
        )
        data = MAGIC + encode_block([header], self.config.compress_level)
        self._file.write(data)
        self._file.flush()
        self._size = len(data)
        self.paths.append(path)
        self.stats.files += 1
        self.stats.bytes_written += len(data)


def run_name(at: float, directory: Path) -> str:
    """A run name from the bot's clock and the process id, not used yet in ``directory``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at))
    base = f"run-{stamp}-{os.getpid()}"
    name, n = base, 1
    while (directory / f"{name}.0{SUFFIX}").exists():
        n += 1
        name = f"{base}-{n}"
    return name
