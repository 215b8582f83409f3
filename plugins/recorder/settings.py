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
    block_records: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 20_000
    """Records per compressed block at most."""
    max_buffered: Annotated[int, msgspec.Meta(ge=1000, le=100_000_000)] = 2_000_000
    """Records held in memory for the writer at most; past it the oldest are lost (counted,
    logged, the run summary's ``recorder.overflows``), the loop is never made to wait."""
    compress_level: Annotated[int, msgspec.Meta(ge=1, le=9)] = 6
    """zlib level of the blocks (1 fastest, 9 smallest)."""
