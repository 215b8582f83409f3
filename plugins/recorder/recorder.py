"""The flight recorder: a ``FrameTap`` that buffers raw frames on the loop and a thread that
writes them (``format``), rotated by size, secrets left out.

On the loop, per frame: one tuple appended to a ``deque`` (the kind, the stream,
``time.monotonic_ns()``, the bytes; on a clock other than the system's, its time too); per
REST request, a ``Sent`` marker as it leaves (where it left among the frames) and the answer
as it comes. A writer thread, at a lower scheduling priority (``writer_nice``), wakes every
``flush_interval``, takes what is there in one C-level pass, encodes it with msgspec and
compresses it with zstd (which lets the loop run meanwhile) within its CPU budget (``budget``;
past it, blocks are stored uncompressed) and appends the blocks; the loop never waits on the
disk, and the writer does no Python work per frame.

Not recorded: the API key (a header the connector adds; the tap never sees it), signatures
(added to the query string only, after the parameters the tap gets), listenKeys (each replaced
by ``listenkey-<n>``, the same text for the same key within a run, in REST answers, parameters
and stream events; checked on the loop for user-data frames and REST answers only, since market
frames carry none: first a one-byte ``memchr`` for ``K``, which a frame without one, i.e.
nearly every frame, passes at ~0.15 µs instead of ~1.1 µs for the search of ``listenKey`` in a
1.2 kB ACCOUNT_UPDATE).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from .budget import CompressBudget
from .format import (
    ANCHOR,
    BARE,
    FRAME,
    MAGIC,
    REST,
    SENT,
    STATE,
    STOP,
    SUFFIX,
    TIMED_FRAME,
    VERSION,
    Header,
    Outcome,
    encode_block,
)
from .settings import RecorderSettings

LISTEN_KEY_JSON = re.compile(rb'"listenKey"\s*:\s*"([^"]*)"')
LISTEN_KEY_PARAM = "listenKey"
USER_DATA = "user_data"  # the stream whose frames may carry a listenKey
_END = object()  # the writer's marker in the queue: take everything before it


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
    stored_blocks: int = 0  # blocks written uncompressed (over the compression budget)
    writer_cpu: float = 0.0  # CPU seconds the writer thread used


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
        if b"K" not in data or b"listenKey" not in data:
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
        clock: Callable[[], float] | None,
        settings: Mapping[str, Any],
        version: str,
    ) -> None:
        """``clock``: the bot's clock; ``None`` for the system clock (``time.time``), whose
        reading per frame is then derived from the monotonic one (see ``format``)."""
        self.config = config
        self.directory = directory
        self.run = ""  # named at ``start``
        self._system_clock = clock is None
        self._clock = clock or time.time
        self._settings = dict(settings)
        self._version = version
        self._queue: deque[Any] = deque(maxlen=config.max_buffered)
        self._mask = ListenKeyMask()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._file: Any = None
        self._size = 0
        self._others = 0  # records that are not frames, queued so far
        self._marks = 0  # time marks queued so far
        self._taken = 0  # queued items the writer took
        self._bare: str | None = None  # the stream whose frames are queued as bare bytes
        self._stamper: asyncio.TimerHandle | None = None
        self._budget = CompressBudget(config.compress_budget)  # the writer's, set as it starts
        self.part = -1
        self.paths: list[Path] = []
        self.stats = RecorderStats()

    # --------------------------------------------------------------------- FrameTap

    def stream_frames(self, stream: str) -> Callable[[bytes], None]:
        """The per-message callable for ``stream``: one append, no I/O."""
        append = self._queue.append
        mono = time.monotonic_ns
        mask = self._mask.bytes
        if self._system_clock:
            if self._bare is None and stream != USER_DATA:
                # The busiest stream's frames go into the queue as they are: the tap is the
                # deque's own C ``append``, no Python call per frame. Their time is the latest
                # time mark (``_stamp``, every ``stamp_interval``), their order exact.
                self._bare = stream
                self._others += 1
                append((BARE, stream))
                self._start_stamps()
                return append
            if stream == USER_DATA:

                def record_user(data: bytes) -> None:
                    if b"K" in data and b"listenKey" in data:
                        data = mask(data)
                    append((TIMED_FRAME, stream, mono(), data))

                return record_user

            def record(data: bytes) -> None:
                append((TIMED_FRAME, stream, mono(), data))

            return record
        now = self._clock

        def record_timed(data: bytes) -> None:
            if b"K" in data and b"listenKey" in data:
                data = mask(data)
            append((FRAME, stream, now(), mono(), data))

        return record_timed

    def _start_stamps(self) -> None:
        """Append a time mark every ``stamp_interval`` on the running loop, until ``close``."""
        loop = asyncio.get_running_loop()
        interval = self.config.stamp_interval
        append = self._queue.append
        wall, mono = time.time, time.monotonic_ns

        def stamp() -> None:
            self._marks += 1
            append((ANCHOR, wall(), mono()))
            self._stamper = loop.call_later(interval, stamp)

        stamp()

    def rest_sent(self) -> float:
        """Queue a ``Sent`` marker (its place among the frames is where the request left: a
        replay holds the records after it back until the replayed bot has sent as many
        requests); the bot's clock as the request leaves, the answer's ``sent_at``."""
        at = self._clock()
        self._others += 1
        self._queue.append((SENT, at, time.monotonic_ns()))
        return at

    def rest_answered(
        self,
        stamp: float,
        method: str,
        path: str,
        params: Mapping[str, str],
        status: int,
        body: bytes,
    ) -> None:
        """Queue one REST answer (a listenKey in it masked)."""
        mask = self._mask
        self._others += 1
        self.stats.rest += 1
        self._queue.append(
            (
                REST,
                stamp,
                self._clock(),
                time.monotonic_ns(),
                method,
                path,
                mask.params(params),
                status,
                mask.bytes(body),
            )
        )

    # ---------------------------------------------------------------- other records

    def state(self, stream: str, state: str, reason: str, resync: bool) -> None:
        """Queue a stream's state change."""
        self._others += 1
        self._queue.append(
            (STATE, self._clock(), time.monotonic_ns(), stream, state, reason, resync)
        )

    def stop_marker(self) -> None:
        """Queue the point where the bot began to stop."""
        self._others += 1
        self._queue.append((STOP, self._clock(), time.monotonic_ns()))

    def outcome(self, outcome: dict[str, Any]) -> None:
        """Queue the run's outcome (the last record)."""
        self._others += 1
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
        stamper, self._stamper = self._stamper, None
        if stamper is not None:
            stamper.cancel()
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
        lower_priority(self.config.writer_nice)
        budget = self._budget = CompressBudget(self.config.compress_budget)
        while True:
            budget.refill(time.monotonic())
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
            self.stats.writer_cpu = time.thread_time()
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
        others, marks = self._others, self._marks
        queue.append(_END)
        batch = list(iter(queue.popleft, _END))  # what came before the marker, in C
        if not batch:
            return
        self._taken += len(batch)
        self.stats.records = self._taken - marks
        self.stats.frames = self._taken - marks - others
        if self._system_clock:  # the clocks, read together, for the frames of this batch
            batch.append((ANCHOR, time.time(), time.monotonic_ns()))
        limit = self.config.block_records
        for start in range(0, len(batch), limit):
            self._write_block(batch[start : start + limit])

    def _write_block(self, batch: list[Any]) -> None:
        budget = self._budget
        if budget.allows():
            cpu = time.thread_time()
            block = encode_block(batch, self.config.compress_level)
            budget.spend(time.thread_time() - cpu)
        else:
            block = encode_block(batch, 0)
            self.stats.stored_blocks += 1
        if self._size + len(block) > self.config.max_file_bytes and self._size > len(MAGIC) + 512:
            self._file.close()
            self._open_part()
        self._file.write(block)
        self._file.flush()
        self._size += len(block)
        self.stats.blocks += 1
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


def lower_priority(nice: int) -> None:
    """Lower the calling thread's scheduling priority by ``nice`` (Linux: per thread;
    elsewhere, where threads share their process's priority, nothing)."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except OSError as exc:  # not allowed here: the writer runs at the loop's priority
        logger.warning("recorder: the writer's priority stays as it is: {}", exc)


def run_name(at: float, directory: Path) -> str:
    """A run name from the bot's clock and the process id, not used yet in ``directory``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at))
    base = f"run-{stamp}-{os.getpid()}"
    name, n = base, 1
    while (directory / f"{name}.0{SUFFIX}").exists():
        n += 1
        name = f"{base}-{n}"
    return name
