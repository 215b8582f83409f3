"""Routes stdlib ``logging`` records (aiohttp, websockets, asyncio, dynaconf...) into loguru."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from loguru import logger

STDLIB_KEY = "_sl_stdlib"


class InterceptHandler(logging.Handler):
    """loguru's documented recipe: re-log each stdlib record at its caller's frame."""

    def emit(self, record: logging.LogRecord) -> None:
        """Hand ``record`` to loguru with its level, caller, message and exception."""
        level: str | int
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).bind(**{STDLIB_KEY: record.name}).log(
            level, record.getMessage()
        )


@dataclass
class StdlibRouting:
    """Installs the intercept on the root logger and puts everything back on ``restore``."""

    level: int
    levels: Mapping[str, int] = field(default_factory=dict)
    _handler: InterceptHandler | None = None
    _saved_handlers: list[logging.Handler] = field(default_factory=list)
    _saved_level: int = logging.WARNING
    _saved_levels: dict[str, int] = field(default_factory=dict)

    def install(self) -> None:
        """Make the intercept the root logger's only handler; apply the levels."""
        root = logging.getLogger()
        self._saved_handlers = root.handlers[:]
        self._saved_level = root.level
        self._handler = InterceptHandler(level=logging.NOTSET)
        root.handlers = [self._handler]
        root.setLevel(self.level)
        for name, level in self.levels.items():
            named = logging.getLogger(name)
            self._saved_levels[name] = named.level
            named.setLevel(level)

    def restore(self) -> None:
        """Put back the root logger's handlers and every level changed by ``install``."""
        if self._handler is None:
            return
        root = logging.getLogger()
        root.handlers = [h for h in root.handlers if h is not self._handler]
        for handler in self._saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(self._saved_level)
        for name, level in self._saved_levels.items():
            logging.getLogger(name).setLevel(level)
        self._saved_levels.clear()
        self._handler = None
