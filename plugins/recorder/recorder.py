"""The flight recorder: a ``FrameTap`` that buffers raw frames on the loop and a thread that
writes them (``format``), rotated by size, secrets left out.

On the loop, per frame: one append to a ``deque`` (the busiest market stream's frame as it is:
the tap is the deque's own C ``append``; any other's as a tuple: the kind, the stream,
``time.monotonic_ns()``, the bytes; on a clock other than the system's, its time too); per
REST request, a ``Sent`` marker as it leaves (where it left among the frames) and the answer
as it comes. Every ``stamp_interval`` a tick on the loop encodes what the deque holds into the
piece (one msgspec call, ``_pack``) for the next block, so each frame is freed within a tick, while
the memory it used is still in cache (held for a whole writer pass instead, the frames made
the loop allocate every new frame in cold memory, which cost more than encoding them). A writer
thread, at a lower scheduling priority (``writer_nice``), wakes every ``flush_interval``, takes
the packed buffers, compresses them with zstd within its CPU budget (``budget``; past it,
blocks are stored uncompressed) and appends them. Both release Python's GIL, so the writer
costs the loop almost nothing: it holds the GIL only to take the buffers.

Not recorded: the API key (a header the connector adds; the tap never sees it), signatures
(added to the query string only, after the parameters the tap gets), listenKeys (each replaced
by ``listenkey-<n>``, the same text for the same key within a run, in REST answers, parameters
and stream events; checked on the loop for user-data frames and REST answers only, since market
frames carry none: first a one-byte ``memchr`` for ``K`` (``75 in frame``: ~0.03 µs over a
1.2 kB ACCOUNT_UPDATE; ``b"K" in frame`` raises and clears a TypeError inside, ~0.2 µs), which
a frame without one, i.e. nearly every frame, passes without the ~0.7 µs search of
``listenKey``).
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

import msgspec
import zstandard
from loguru import logger

from framework.task_owner import task_owner

from .budget import CompressBudget
from .format import (
    ANCHOR,
    BARE,
    BLOCK_HEAD,
    FRAME,
    MAGIC,
    PIECE,
    REST,
    SENT,
    STATE,
    STOP,
    SUFFIX,
    TICKS,
    TIMED_FRAME,
    VERSION,
    ZTICKS,
    Header,
    Outcome,
    encode_block,
)
from .settings import RecorderSettings

LISTEN_KEY_JSON = re.compile(rb'"listenKey"\s*:\s*"([^"]*)"')
LISTEN_KEY_PARAM = "listenKey"
USER_DATA = "user_data"  # the stream whose frames may carry a listenKey
K = ord("K")  # ``K in frame`` is memchr; ``b"K" in frame`` costs ~8x (a TypeError, cleared)
_END = object()  # the packer's marker in the queue: take everything before it
PIECE_RECORDS = 1024  # records per packed array at most (a backlog is packed in several)
SPARE_BUFFERS = 300  # written piece buffers kept for the loop to reuse (a pass of ticks)


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
        if K not in data or b"listenKey" not in data:
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
        self._taken = 0  # queued items packed
        self._lost_bytes = 0  # packed bytes dropped since the writer last said so
        self._bare: str | None = None  # the stream whose frames are queued as bare bytes
        self._ticker: asyncio.Handle | None = None
        self._mark: tuple[int, float, int] | None = None  # the clocks at the last tick's packing
        self._mark_written: tuple[int, float, int] | None = None  # the last mark packed
        self._pieces: list[bytes | bytearray] = []  # the next block: lengths, record arrays
        self._pieces_bytes = 0
        self._handed: deque[tuple[list[bytes | bytearray], int]] = deque()  # for the writer
        self._handed_bytes = 0
        self._spare: deque[bytearray] = deque(maxlen=SPARE_BUFFERS)  # written, to reuse
        self._pack_lock = threading.Lock()  # the loop's ticks and the writer's last packing
        self._encode_into = msgspec.msgpack.Encoder().encode_into
        self._budget = CompressBudget(config.compress_budget)  # the writer's, set as it starts
        self._zstd = zstandard.ZstdCompressor(level=config.compress_level)  # the writer's
        self.part = -1
        self.paths: list[Path] = []
        self.stats = RecorderStats()

    # --------------------------------------------------------------------- FrameTap

    def stream_frames(self, stream: str) -> Callable[[bytes], None]:
        """The per-message callable for ``stream``: one append, no I/O."""
        append = self._queue.append
        mono = time.monotonic_ns
        mask = self._mask.bytes
        self._start_ticks()
        if self._system_clock:
            if self._bare is None and stream != USER_DATA:
                # The busiest stream's frames go into the queue as they are: the tap is the
                # deque's own C ``append``, no Python call per frame. Their time is the latest
                # time mark (``_start_ticks``, every ``stamp_interval``), their order exact.
                self._bare = stream
                self._others += 1
                append((BARE, stream))
                return append
            if stream == USER_DATA:

                def record_user(data: bytes) -> None:
                    if K in data and b"listenKey" in data:
                        data = mask(data)
                    append((TIMED_FRAME, stream, mono(), data))

                return record_user

            def record(data: bytes) -> None:
                append((TIMED_FRAME, stream, mono(), data))

            return record
        now = self._clock

        def record_timed(data: bytes) -> None:
            if K in data and b"listenKey" in data:
                data = mask(data)
            append((FRAME, stream, now(), mono(), data))

        return record_timed

    def _start_ticks(self) -> None:
        """On the running loop (if there is one), every ``stamp_interval`` until ``close``:
        ``_pack``, then, on the system clock, read the time mark of the next tick's records."""
        if self._ticker is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a test feeding frames by hand): the writer packs
            return
        interval = self.config.stamp_interval
        wall, mono = time.time, time.monotonic_ns
        pack, system_clock = self._pack, self._system_clock

        def tick() -> None:
            if self._stopping:
                return
            if pack(False) and system_clock:
                self._mark = (ANCHOR, wall(), mono())
            self._ticker = loop.call_later(interval, tick)

        self._ticker = loop.call_soon(tick)

    def _pack(self, writer: bool) -> bool:
        """Encode the queued records into a piece of the next block (one length-prefixed msgpack
        array, led by the time mark read when the records before them were packed, unless a
        piece already holds it: every one of them arrived after it) and hand the buffer to
        the writer once it holds ``block_bytes``, or when the ``writer`` asks. A tick that
        finds the writer packing skips its turn (``False``). A quiet tick writes nothing, not
        even a mark."""
        lock = self._pack_lock
        if not lock.acquire(blocking=writer):
            return False
        try:
            queue = self._queue
            if queue:
                queue.append(_END)
                records = list(iter(queue.popleft, _END))  # what came before the marker, in C
                self._taken += len(records)
                mark = self._mark
                if mark is not None and mark is not self._mark_written:  # once per tick
                    records.insert(0, mark)
                    self._mark_written = mark
                spare = self._spare
                for start in range(0, len(records), PIECE_RECORDS):  # a tick's: one piece
                    # Into a buffer the writer has written and given back: new memory for every
                    # piece made the allocator hand pages back to the system and fault them in
                    # again (~1.5 µs per 1.2 kB frame, measured), a buffer that keeps growing
                    # moved (realloc) on most ticks.
                    piece = spare.pop() if spare else bytearray()
                    self._encode_into(records[start : start + PIECE_RECORDS], piece)
                    self._pieces += (PIECE.pack(len(piece)), piece)
                    self._pieces_bytes += PIECE.size + len(piece)
                    if self._pieces_bytes >= self.config.block_bytes:
                        self._hand()
            if writer and self._pieces:
                self._hand()
        finally:
            lock.release()
        return True

    def _hand(self) -> None:
        """Give the packed pieces to the writer as a block (or lose them, counted, past the
        limit)."""
        pieces, size = self._pieces, self._pieces_bytes
        self._pieces, self._pieces_bytes = [], 0
        if self._handed_bytes + size > self.config.max_buffered_bytes:
            self.stats.overflows += 1  # the writer is behind: this block is lost
            self._lost_bytes += size
            return
        self._handed.append((pieces, size))
        self._handed_bytes += size

    def rest_sent(self) -> float:
        """Queue a ``Sent`` marker (its place among the frames is where the request left: a
        replay holds the records after it back until the replayed bot has sent as many
        requests) with the plugin whose task sends it (``task_owner``); the bot's clock as
        the request leaves, the answer's ``sent_at``."""
        at = self._clock()
        self._others += 1
        self._queue.append((SENT, at, time.monotonic_ns(), task_owner()))
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
        """Queue one REST answer (a listenKey in it masked), with the plugin whose task
        asked (``task_owner``)."""
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
                task_owner(),
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
        self._stopping = True  # the loop's ticks stop; the writer's last pass packs the rest
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
                "the oldest are lost; the loop has not packed them in time",
                len(queue),
            )
        if self._lost_bytes:
            lost, self._lost_bytes = self._lost_bytes, 0
            logger.error(
                "recorder: {:,} bytes of records lost: the writer was {:,} bytes behind, the "
                "limit (plugins.recorder.max_buffered_bytes); the disk is too slow for this rate",
                lost,
                self.config.max_buffered_bytes,
            )
        others = self._others
        self._pack(True)
        self.stats.records = self._taken
        self.stats.frames = self._taken - others
        handed, spare = self._handed, self._spare
        while handed:
            pieces, size = handed.popleft()
            self._handed_bytes -= size
            self._write_ticks(pieces, size)
            spare.extend(p for p in pieces if type(p) is bytearray)

    def _write_ticks(self, pieces: list[bytes | bytearray], size: int) -> None:
        """One block of packed record arrays (``size`` bytes in all), compressed if the budget
        allows."""
        budget = self._budget
        if budget.allows():
            cpu = time.thread_time()
            data = self._zstd.compress(b"".join(pieces))  # zstd lets the loop run meanwhile
            budget.spend(time.thread_time() - cpu)
            pieces, size, tag = [data], len(data), ZTICKS
        else:
            tag = TICKS
            self.stats.stored_blocks += 1
        self._write(BLOCK_HEAD.pack(tag, size), pieces, size)

    def _write(self, head: bytes, pieces: list[Any], size: int) -> None:
        """Append one block, its payload given as ``pieces`` of ``size`` bytes in all, to the
        current part (the next one if this one would grow past ``max_file_bytes``)."""
        size += len(head)
        if self._size + size > self.config.max_file_bytes and self._size > len(MAGIC) + 512:
            self._file.close()
            self._open_part()
        self._file.write(head)
        self._file.writelines(pieces)  # large pieces go to the file uncopied, GIL released
        self._file.flush()
        self._size += size
        self.stats.blocks += 1
        self.stats.bytes_written += size

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
