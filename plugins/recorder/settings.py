"""The ``plugins.recorder`` settings block."""

from __future__ import annotations

from typing import Annotated

import msgspec

KIB = 1024
MIB = 1024 * KIB


class RecorderSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where the flight recorder writes, how large a file grows, how often it writes."""

    directory: Annotated[str, msgspec.Meta(max_length=4096)] = ""
    """Folder of the recordings; empty: ``<runtime.data_dir>/recordings``."""
    max_file_bytes: Annotated[int, msgspec.Meta(ge=64 * KIB, le=64 * 1024 * MIB)] = 256 * MIB
    """A file that reached this size is closed and the run goes on in its next part."""
    flush_interval: Annotated[float, msgspec.Meta(ge=0.01, le=60)] = 0.25
    """Seconds between the writer thread's passes (each writes what arrived as blocks)."""
    block_bytes: Annotated[int, msgspec.Meta(ge=4 * KIB, le=256 * MIB)] = MIB
    """Bytes of packed records per block, about: the loop hands a block to the writer once
    its records take this much (or when the writer wakes), and a block is compressed whole."""
    max_buffered: Annotated[int, msgspec.Meta(ge=1000, le=100_000_000)] = 2_000_000
    """Records waiting to be packed at most (the loop packs them every ``stamp_interval``);
    past it the oldest are lost (counted, logged, the run summary's ``recorder.overflows``),
    the loop is never made to wait."""
    max_buffered_bytes: Annotated[int, msgspec.Meta(ge=MIB, le=64 * 1024 * MIB)] = 256 * MIB
    """Packed bytes waiting for the writer at most (a disk slower than the streams); past it
    a block is lost (counted and logged like ``max_buffered``)."""
    stamp_interval: Annotated[float, msgspec.Meta(ge=0.0001, le=1)] = 0.001
    """Seconds between the loop's ticks: each packs the records that arrived since (so frames
    are freed within a tick) and, on the system clock, adds a time mark for the busiest market
    stream's frames, which carry no time of their own (see docs/replay.md): the precision of
    their receive time."""
    compress_level: Annotated[int, msgspec.Meta(ge=1, le=19)] = 3
    """zstd level of the blocks (1 fastest, 19 smallest; 3 compresses market data about 10x
    at about 0.5 µs per bookTicker, 4.5 µs per ACCOUNT_UPDATE, off the loop)."""
    compress_budget: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.01
    """Share of one CPU core the writer may spend compressing, on average (up to 2 s of it
    saved up for a burst); past it, blocks are stored uncompressed until the average falls
    back under. 0: never compress."""
    writer_nice: Annotated[int, msgspec.Meta(ge=0, le=19)] = 10
    """How much the writer thread lowers its own scheduling priority (Unix ``nice``): on a
    busy machine the loop and the exchange's data go first, the writer catches up after."""
