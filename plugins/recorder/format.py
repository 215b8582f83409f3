"""The recording file: blocks of msgpack records, each block zlib-compressed, append-only.

A file starts with ``MAGIC`` and holds blocks; a block is ``b"TLRB"``, the length of its
compressed payload (4 bytes, little-endian) and the payload: one msgpack array of records,
zlib-compressed. Blocks are written whole and ``fsync``-free by a writer thread; a run killed
mid-write leaves at most a torn last block, which the reader skips and reports (``torn``).

Each record is a msgpack array whose first element is its kind (``Header`` 0, ``Frame`` 1,
``Rest`` 2, ``State`` 3, ``Stop`` 4, ``Outcome`` 5). Times: ``at`` is the bot's clock (Unix
seconds, a ``ManualClock`` in tests), ``mono_ns`` the host's ``time.monotonic_ns()``.

A run writes ``<run>.<part>.tlrec`` files (part 0, 1, ... as the size limit rotates them);
every part starts with a ``Header``. ``read_records`` reads the part it is given and the
parts after it.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

MAGIC = b"TLREC1\n"
BLOCK = b"TLRB"
BLOCK_HEAD = struct.Struct("<4sI")
VERSION = 1
SUFFIX = ".tlrec"
PART = re.compile(r"^(?P<run>.+)\.(?P<part>\d+)\.tlrec$")

FRAME, REST, STATE, STOP = 1, 2, 3, 4


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

    ``status`` 0: no answer (the transport failed; ``body`` names how)."""

    sent_at: float
    at: float
    mono_ns: int
    method: str
    path: str
    params: dict[str, str]
    status: int
    body: bytes


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


Record = Header | Frame | Rest | State | Stop | Outcome

_decode_block = msgspec.msgpack.Decoder(list[Record]).decode


class RecordingError(Exception):
    """The file is not a recording, or not one this version reads."""


def encode_block(records: list[Any], level: int = 6) -> bytes:
    """One block of ``records`` (Structs, or tuples laid out as they are: kind first)."""
    payload = zlib.compress(msgspec.msgpack.encode(records), level)
    return BLOCK_HEAD.pack(BLOCK, len(payload)) + payload


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
    stats = stats if stats is not None else ReadStats()
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
                if tag != BLOCK:
                    raise RecordingError(f"{part}: damaged block at byte {f.tell() - len(head)}")
                payload = f.read(size)
                if len(payload) < size:
                    stats.torn += 1
                    break
                try:
                    records = _decode_block(zlib.decompress(payload))
                except (zlib.error, msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise RecordingError(f"{part}: unreadable block: {exc}") from None
                stats.blocks += 1
                yield from records


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
