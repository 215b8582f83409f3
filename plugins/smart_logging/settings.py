"""The ``plugins.smart_logging`` settings block."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from framework.setting_types import HOUR

LevelName = Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"]
Format = Literal["console", "json"]
Bytes = Annotated[int, msgspec.Meta(ge=1, le=2**50)]
Files = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class FileSinkSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The optional log file, rotated and pruned by loguru."""

    path: str = ""
    """Where to write; empty means no file sink. Relative paths are taken from the working dir."""
    rotation: str | Bytes = "50 MB"
    """loguru ``rotation``: a size ("50 MB", or bytes), a time of day ("00:00"), an interval."""
    retention: str | Files = "14 days"
    """loguru ``retention``: how long ("14 days"), or how many rotated files (an integer)."""
    compression: str = ""
    """loguru ``compression`` of rotated files ("gz", "zip", ...); empty means none."""
    format: Format = "json"


class SmartLoggingSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Rate limiting, aggregation, sinks, levels and redaction of every log line."""

    rate_limit_window: Annotated[float, msgspec.Meta(ge=0.01, le=HOUR)] = 2.0
    """A message key (call site and plugin) is written at most once per window."""
    level: LevelName = "INFO"
    """Default minimum level, for loguru records and for stdlib loggers."""
    levels: dict[str, LevelName] = msgspec.field(default_factory=dict)
    """Per-module minimum levels, by dotted prefix: ``{"websockets": "WARNING"}``."""
    format: Format = "console"
    """Console output: human-readable lines, or one JSON object per line."""
    console: Literal["stderr", "stdout", "off"] = "stderr"
    colorize: bool | None = None
    """Console colours; ``None`` means only when the stream is a terminal."""
    file: FileSinkSettings = msgspec.field(default_factory=FileSinkSettings)
    redact_patterns: tuple[str, ...] = ()
    """Extra regular expressions to mask: group 1 if the pattern has groups, else the match."""
    intercept_stdlib: bool = True
    """Route the stdlib ``logging`` records (aiohttp, websockets, asyncio, ...) through loguru."""
    max_keys: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 10000
    """Per-key statistics kept; later keys are counted under ``<other>``."""
