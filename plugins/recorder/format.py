"""The recording file: blocks of msgpack records, zstd-compressed or stored, append-only.

A file starts with ``MAGIC`` and holds blocks; a block is a tag, the length of its payload
(4 bytes, little-endian) and the payload: one msgpack array of records, as one zstd frame
(tag ``b"TLRB"``) or as it is (tag ``b"TLRU"``, version 2: blocks the writer stored
uncompressed because compressing them would have taken more CPU than its budget). Blocks
are written whole, without ``fsync``, by a writer thread; a run killed
mid-write leaves at most a torn last block, which the reader skips and reports (``torn``).

Each record is a msgpack array whose first element is its kind (``Header`` 0, ``Frame`` 1,
``Rest`` 2, ``State`` 3, ``Stop`` 4, ``Outcome`` 5, ``TimedFrame`` 6, ``Anchor`` 7, ``Bare``
8, ``Sent`` 9: version 3, the place among the frames where a REST request left). Times:
``at`` is the bot's clock (Unix seconds, a ``ManualClock`` in tests), ``mono_ns`` the host's
``time.monotonic_ns()``. On the system clock, to keep the loop's cost per frame small:

* a frame is written as a ``TimedFrame`` (its monotonic time only) after an ``Anchor`` (both
  clocks read together; up to version 2 the writer added one to every block, since version 3
  the loop leads each tick's records with one); the reader makes a ``Frame`` whose ``at`` is
  the anchor's plus the monotonic time elapsed since;
* the busiest market stream's frames (named once by a ``Bare`` record) are stored as bare
  bytes, and ``Anchor`` time marks are added every ``stamp_interval``; the reader gives such a
  frame the times of the latest mark before it.

Version 3 adds the blocks the loop packs tick by tick (tag ``b"TLRT"``, or ``b"TLRZ"`` as one
zstd frame): their payload is a run of pieces, each the length of a msgpack array of records
(4 bytes, little-endian) and that array.

A run writes ``<run>.<part>.tlrec`` files (part 0, 1, ... as the size limit rotates them);
every part starts with a ``Header``. ``read_records`` reads the part it is given and the
parts after it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import msgspec
import zstandard

MAGIC = b"TLREC1\n"
BLOCK = b"TLRB"  # the payload is one zstd frame
RAW_BLOCK = b"TLRU"  # the payload is stored uncompressed (version 2)
TICKS = b"TLRT"  # the payload is length-prefixed record arrays, stored (version 3)
ZTICKS = b"TLRZ"  # the same as one zstd frame (version 3)
BLOCK_HEAD = struct.Struct("<4sI")
PIECE = struct.Struct("<I")
VERSION = 3  # 3: ``Sent`` markers and tick blocks (``TLRT``/``TLRZ``); 2: ``TLRU`` blocks
SUFFIX = ".tlrec"
PART = re.compile(r"^(?P<run>.+)\.(?P<part>\d+)\.tlrec$")

FRAME, REST, STATE, STOP, TIMED_FRAME, ANCHOR, BARE, SENT = 1, 2, 3, 4, 6, 7, 8, 9


class Header(msgspec.Struct, array_like=True, tag=0, frozen=True):
    """First record of every part: the run and its settings (secrets masked)."""

    version: int
    tradeloop: str
    run: str
    part: int
    at: float
    mono_ns: int
    settings: dict[str, Any]


class Frame(msgspec.Struct, array_like=True, tag=FRAME, frozen=True, gc=False):
    """One WebSocket message of ``stream`` as received (a listenKey in it masked)."""

    stream: str
    at: float
    mono_ns: int
    data: bytes


class Rest(msgspec.Struct, array_like=True, tag=REST, frozen=True, gc=False):
    """One REST answer: the request (no signature, no key) and the answer as received.

    ``status`` 0: no answer (the transport failed; ``body`` names how). ``owner``: as its
    ``Sent`` marker's."""

    sent_at: float
    at: float
    mono_ns: int
    method: str
    path: str
    params: dict[str, str]
    status: int
    body: bytes
    owner: str = ""


class Sent(msgspec.Struct, array_like=True, tag=SENT, frozen=True, gc=False):
    """A REST request left here (version 3): its place among the frames is the one the live
    bot sent it at; its answer is a later ``Rest`` whose ``sent_at`` is this ``at``. A replay
    sends nothing recorded after it until the replayed bot has sent as many requests.
    ``owner``: the plugin whose job or spawned task sent it (``framework.task_owner``; empty:
    the bot's own start or stop, a hook call, or a recording made before it was kept), so a
    replay can leave out the requests of the plugins it does not run."""

    at: float
    mono_ns: int
    owner: str = ""


class State(msgspec.Struct, array_like=True, tag=STATE, frozen=True):
    """A stream's state change, as the connector announced it (``on_stream_state``)."""

    at: float
    mono_ns: int
    stream: str
    state: str
    reason: str
    resync: bool


class Stop(msgspec.Struct, array_like=True, tag=STOP, frozen=True):
    """The bot began to stop here (what follows is its shutdown)."""

    at: float
    mono_ns: int


class Outcome(msgspec.Struct, array_like=True, tag=5, frozen=True):
    """The live run's fills, reconcile results and final cache (``outcome.py``), written
    last, so ``tradeloop replay`` can say whether the replay reproduced the run."""

    at: float
    outcome: dict[str, Any]


class TimedFrame(msgspec.Struct, array_like=True, tag=TIMED_FRAME, frozen=True, gc=False):
    """A ``Frame`` with its monotonic time only (read as a ``Frame``, see the module doc)."""

    stream: str
    mono_ns: int
    data: bytes


class Anchor(msgspec.Struct, array_like=True, tag=ANCHOR, frozen=True):
    """The bot's clock and the monotonic clock, read together."""

    at: float
    mono_ns: int


class Bare(msgspec.Struct, array_like=True, tag=BARE, frozen=True):
    """Frames stored as bare bytes from here on are ``stream``'s."""

    stream: str


Record = Header | Frame | Rest | State | Stop | Outcome | Sent
Stored = Record | TimedFrame | Anchor | Bare | bytes

_decode_block = msgspec.msgpack.Decoder(list[Stored]).decode
TAGS = frozenset((BLOCK, RAW_BLOCK, TICKS, ZTICKS))


class RecordingError(Exception):
    """The file is not a recording, or not one this version reads."""


def encode_block(records: list[Any], level: int = 3) -> bytes:
    """One block of ``records`` (Structs, or tuples laid out as they are: kind first),
    compressed at zstd ``level``; level 0: stored uncompressed."""
    payload = msgspec.msgpack.encode(records)
    if level == 0:
        return BLOCK_HEAD.pack(RAW_BLOCK, len(payload)) + payload
    payload = zstandard.ZstdCompressor(level=level).compress(payload)
    return BLOCK_HEAD.pack(BLOCK, len(payload)) + payload


def decode_pieces(payload: bytes) -> Iterator[list[Any]]:
    """The record arrays of a ``TICKS`` payload, in order."""
    view, at, end = memoryview(payload), 0, len(payload)
    while at < end:
        (size,) = PIECE.unpack_from(view, at)
        at += PIECE.size
        if at + size > end:
            raise ValueError(f"a piece of {size} bytes runs past the block's end")
        yield _decode_block(view[at : at + size])
        at += size


@dataclass
class ReadStats:
    """What reading found besides records."""

    files: list[str] = field(default_factory=list)
    blocks: int = 0
    torn: int = 0


def parts_of(path: Path) -> list[Path]:
    """``path`` and the parts of the same run after it, in order."""
    match = PART.match(path.name)
    if match is None:
        return [path]
    run, first = match["run"], int(match["part"])
    found: list[tuple[int, Path]] = []
    for other in path.parent.glob(f"{glob_escape(run)}.*{SUFFIX}"):
        m = PART.match(other.name)
        if m is not None and m["run"] == run and int(m["part"]) >= first:
            found.append((int(m["part"]), other))
    return [p for _, p in sorted(found)]


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def read_records(path: Path, stats: ReadStats | None = None) -> Iterator[Record]:
    """Every record of the recording at ``path`` and its later parts, in order.

    Raises ``RecordingError`` for a file that is not a recording; a torn last block (a run
    killed while writing) ends that part, counted in ``stats.torn``.
    """
    return cast(Iterator[Record], read_marked(path, stats, marks=False))


def read_marked(
    path: Path, stats: ReadStats | None = None, *, marks: bool = True
) -> Iterator[Record | Anchor]:
    """``read_records`` and, with ``marks``, every ``Anchor`` after the ``Bare`` record (from
    there on the recorder's loop timer queues a time mark every ``stamp_interval``): no mark
    between two frames means the loop did not reach that timer between them, so the
    connector may have taken them in one pass."""
    stats = stats if stats is not None else ReadStats()
    decompress = zstandard.ZstdDecompressor().decompress
    anchor_at, anchor_ns = 0.0, 0
    mark_at, mark_ns = 0.0, 0
    bare = "market"
    stamped = False  # a Bare record was read: time marks come every stamp_interval
    for part in parts_of(path):
        stats.files.append(str(part))
        with part.open("rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise RecordingError(f"{part}: not a tradeloop recording (no {MAGIC!r} header)")
            while head := f.read(BLOCK_HEAD.size):
                if len(head) < BLOCK_HEAD.size:
                    stats.torn += 1
                    break
                tag, size = BLOCK_HEAD.unpack(head)
                if tag not in TAGS:
                    raise RecordingError(f"{part}: damaged block at byte {f.tell() - len(head)}")
                payload = f.read(size)
                if len(payload) < size:
                    stats.torn += 1
                    break
                try:
                    if tag == BLOCK or tag == ZTICKS:
                        payload = decompress(payload)
                    if tag == TICKS or tag == ZTICKS:
                        records = [r for piece in decode_pieces(payload) for r in piece]
                    else:
                        records = _decode_block(payload)
                except (
                    zstandard.ZstdError,
                    msgspec.DecodeError,
                    msgspec.ValidationError,
                    ValueError,
                    struct.error,
                ) as exc:
                    raise RecordingError(f"{part}: unreadable block: {exc}") from None
                stats.blocks += 1
                for record in records:
                    kind = type(record)
                    if kind is bytes:
                        assert isinstance(record, bytes)
                        yield Frame(bare, mark_at, mark_ns, record)
                    elif kind is TimedFrame:
                        assert isinstance(record, TimedFrame)
                        at = anchor_at + (record.mono_ns - anchor_ns) / 1e9
                        yield Frame(record.stream, at, record.mono_ns, record.data)
                    elif kind is Anchor:
                        assert isinstance(record, Anchor)
                        anchor_at, anchor_ns = record.at, record.mono_ns
                        mark_at, mark_ns = anchor_at, anchor_ns
                        if marks and stamped:
                            yield record
                    elif kind is Bare:
                        assert isinstance(record, Bare)
                        bare = record.stream
                        stamped = True
                    else:
                        if kind is Header:
                            assert isinstance(record, Header)
                            anchor_at, anchor_ns = record.at, record.mono_ns
                            mark_at, mark_ns = anchor_at, anchor_ns
                        yield record


def header_of(path: Path) -> Header:
    """The first record of ``path``: its ``Header``."""
    for record in read_records(path):
        if isinstance(record, Header):
            if record.version > VERSION:
                raise RecordingError(
                    f"{path}: recording version {record.version}; this tradeloop reads "
                    f"{VERSION} and older"
                )
            return record
        break
    raise RecordingError(f"{path}: no header record")
