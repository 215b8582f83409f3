"""Output formats (console lines, JSON lines) and the loguru handlers that write them."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any, TextIO

import orjson
from loguru import logger

from framework.log_guard import EXC_TEXT_KEY
from framework.redact import Redactor

from .intercept import STDLIB_KEY
from .queue_sink import QueueSink
from .records import (
    EXC_KEY,
    INTERNAL_PREFIX,
    PLUGIN_KEY,
    REPEAT_KEY,
    STRATEGY_KEY,
    RecordFilter,
)
from .settings import SmartLoggingSettings

if TYPE_CHECKING:
    from loguru import Record

JSON_KEY = "_sl_json"
CONSOLE_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "<cyan>{name}</cyan>:<cyan>{function}</cyan>:<cyan>{line}</cyan>{extra[_sl_tag]} - "
    "<level>{message}</level>\n"
)
CONSOLE_FORMAT_EXC = CONSOLE_FORMAT + "{extra[" + EXC_KEY + "]}"
SHORT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level>"
    "{extra[_sl_tag]} - <level>{message}</level>\n"
)
SHORT_FORMAT_EXC = SHORT_FORMAT + "{extra[" + EXC_KEY + "]}"
DEBUG_LEVEL = 10
BOUND_SHOWN_ELSEWHERE = frozenset({"plugin", "strategy", EXC_TEXT_KEY})


def console_format(record: Record) -> str:
    """loguru's default layout plus `` [plugin]``; the redacted traceback if there is one."""
    return CONSOLE_FORMAT_EXC if record["extra"].get(EXC_KEY) else CONSOLE_FORMAT


def short_format(record: Record) -> str:
    """Time, level, `` [plugin]`` and the message, without ``module:function:line``."""
    return SHORT_FORMAT_EXC if record["extra"].get(EXC_KEY) else SHORT_FORMAT


class JsonFormat:
    """One JSON object per record; built once per record even with several JSON sinks.

    Fields: ``time`` (ISO 8601, UTC), ``level``, ``message``, ``logger`` (module), ``function``,
    ``line``, ``plugin``, ``strategy``, ``exception`` (redacted traceback or null), ``extra``
    (other bound values, redacted), ``stdlib_logger`` on records from stdlib logging, and on
    aggregated lines ``repeated`` and ``span_s``.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def __call__(self, record: Record) -> str:
        """The format string of one JSON line (the JSON itself is in ``extra``)."""
        extra = record["extra"]
        if JSON_KEY not in extra:
            extra[JSON_KEY] = self.render(record)
        return "{extra[" + JSON_KEY + "]}\n"

    def render(self, record: Record) -> str:
        """The JSON text of ``record``."""
        extra = record["extra"]
        data: dict[str, Any] = {
            "time": record["time"].astimezone(UTC).isoformat(timespec="microseconds"),
            "level": record["level"].name,
            "message": record["message"],
            "logger": record["name"],
            "function": record["function"],
            "line": record["line"],
            "plugin": extra.get(PLUGIN_KEY),
            "strategy": extra.get(STRATEGY_KEY),
            "exception": extra.get(EXC_KEY) or None,
        }
        stdlib = extra.get(STDLIB_KEY)
        if stdlib is not None:
            data["stdlib_logger"] = stdlib
        repeat = extra.get(REPEAT_KEY)
        if repeat is not None:
            data["repeated"], span = repeat
            data["span_s"] = round(span, 6)
        others = {
            str(k): self._value(v)
            for k, v in extra.items()
            if not str(k).startswith(INTERNAL_PREFIX) and k not in BOUND_SHOWN_ELSEWHERE
        }
        if others:
            data["extra"] = others
        return orjson.dumps(data).decode()

    def _value(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.redactor(str(value))


def _console_stream(config: SmartLoggingSettings) -> TextIO | None:
    if config.console == "off":
        return None
    return sys.stdout if config.console == "stdout" else sys.stderr


def _console_writer(name: str) -> tuple[Callable[[str], Any], Callable[[], Any]]:
    """Write and flush ``sys.<name>`` as it is at each write, not as it was at install.

    A live terminal display (the ``status`` plugin, rich's ``Live``) swaps ``sys.stderr`` and
    ``sys.stdout`` for proxies that print above it; looking the stream up per line lets log
    lines take that path instead of tearing the display.
    """

    def stream() -> TextIO:
        return sys.stdout if name == "stdout" else sys.stderr

    return (lambda text: stream().write(text)), (lambda: stream().flush())


def _file_writer(config: SmartLoggingSettings) -> tuple[Callable[[str], None], Callable[[], None]]:
    """Write lines to a rotated, pruned file through loguru's own file sink.

    The file handler lives on an independent copy of the logger (loguru's documented
    ``copy.deepcopy(logger)`` recipe, taken while the logger has no handlers), so only the
    queue thread writes to it and it never sees records of its own.
    """
    sink = config.file
    file_logger = copy.deepcopy(logger)
    file_logger.remove()
    handler_id = file_logger.add(
        sink.path,
        level=0,
        format="{message}",
        colorize=False,
        backtrace=False,
        diagnose=False,
        rotation=sink.rotation,
        retention=sink.retention,
        compression=sink.compression or None,
        encoding="utf-8",
    )
    raw = file_logger.opt(raw=True)

    def write(line: str) -> None:
        raw.log("TRACE", line)

    def close() -> None:
        file_logger.remove(handler_id)

    return write, close


class Sinks:
    """The plugin's loguru handlers and the queues in front of them."""

    def __init__(self) -> None:
        self.handler_ids: list[int] = []
        self.queues: list[QueueSink] = []

    def add(self, config: SmartLoggingSettings, record_filter: RecordFilter) -> None:
        """Add the console and file handlers; each writes through a ``QueueSink``."""
        level = record_filter.levels.floor
        json_format = JsonFormat(record_filter.redactor)
        # The file's logger is copied first, while the global logger has no handlers.
        file_writer = _file_writer(config) if config.file.path else None
        stream = _console_stream(config)
        if stream is not None:
            as_json = config.format == "json"
            write, flush = _console_writer(config.console)
            console = QueueSink(
                write,
                name="smart_logging-console",
                flush=flush,
                isatty=getattr(stream, "isatty", None),
            )
            self.queues.append(console)
            self.handler_ids.append(
                logger.add(
                    console,
                    level=level,
                    # ``module:function:line`` on the console only when debugging (level DEBUG)
                    format=json_format
                    if as_json
                    else console_format
                    if level <= DEBUG_LEVEL
                    else short_format,
                    filter=record_filter,
                    colorize=False if as_json else config.colorize,
                    backtrace=False,
                    diagnose=False,
                )
            )
        if file_writer is not None:
            write, close = file_writer
            file_queue = QueueSink(write, name="smart_logging-file", close=close)
            self.queues.append(file_queue)
            self.handler_ids.append(
                logger.add(
                    file_queue,
                    level=level,
                    format=json_format if config.file.format == "json" else console_format,
                    filter=record_filter,
                    colorize=False,
                    backtrace=False,
                    diagnose=False,
                )
            )

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued line is written."""
        return all([q.drain(timeout) for q in self.queues])

    def remove(self) -> None:
        """Remove the handlers (loguru stops each queue: what is queued is written first)."""
        for handler_id in self.handler_ids:
            logger.remove(handler_id)
        self.handler_ids = []
        self.queues = []

    @property
    def errors(self) -> int:
        """Lines a sink failed to write."""
        return sum(q.errors for q in self.queues)
