"""What the core guarantees about log output, whatever plugins are enabled.

* **No local variable values.** The core's loguru ``patcher`` runs before every handler: it
  renders a record's exception as Python prints it (chained causes included, no variable
  values), redacts it into ``extra["_exc"]`` and removes the exception object from the
  record, so no handler can render it with ``diagnose`` (loguru's default shows locals).
* **Redaction.** The same patcher redacts every message and traceback with
  ``framework.redact.Redactor``: the value of every secret key of the settings
  (``*api_key``, ``*secret``, ``*token``, ...), key/value patterns, and listenKeys in
  ``/ws/<key>`` stream URLs. ``redact`` does the same for error lines the CLI prints.
* **A safe default handler.** loguru's default ``stderr`` handler is replaced by one with
  the same layout, ``diagnose`` and ``backtrace`` off, that prints the redacted traceback.

loguru cannot unset a patcher once configured: the guard stays for the life of the process
(installing it again only changes the secrets).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING

from loguru import logger

from framework.redact import Redactor

if TYPE_CHECKING:
    from loguru import Record, RecordException

EXC_TEXT_KEY = "_exc"
LOGURU_DEFAULT_HANDLER = 0
DEFAULT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "<cyan>{name}</cyan>:<cyan>{function}</cyan>:<cyan>{line}</cyan> - <level>{message}</level>"
)


class _Guard:
    """The process-wide state: whether the patcher is on, and the current redactor."""

    def __init__(self) -> None:
        self.installed = False
        self.redactor = Redactor()


_GUARD = _Guard()


def guard_logging(secrets: Iterable[str] = ()) -> None:
    """Install the guard (once per process), mask ``secrets`` from now on, and replace
    loguru's default handler if it is still there."""
    _GUARD.redactor = Redactor(secrets)
    if not _GUARD.installed:
        logger.configure(patcher=_patch)
        _GUARD.installed = True
    try:
        logger.remove(LOGURU_DEFAULT_HANDLER)
    except ValueError:
        return  # already replaced, or the embedding application configured loguru itself
    add_default_sink()


def add_default_sink() -> int:
    """loguru's default handler (stderr, level DEBUG, default layout), without ``diagnose``
    and ``backtrace``, printing the redacted traceback; returns the handler id."""
    return logger.add(sys.stderr, format=_format, diagnose=False, backtrace=False)


def redact(text: str) -> str:
    """``text`` with every secret the guard knows masked."""
    return _GUARD.redactor(text)


def render_exception(exc: RecordException) -> str:
    """A record's exception as Python prints it (chained causes included), or ``""``."""
    if exc.type is None:
        return ""
    if exc.value is None:
        return f"{exc.type.__name__}\n"
    return "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))


def is_guard_patcher(patcher: object) -> bool:
    """True for the guard's own patcher: it redacts the message and the exception and never
    changes a record's call site or extras (smart_logging's early suppression relies on it)."""
    return patcher is _patch


def _patch(record: Record) -> None:
    redactor = _GUARD.redactor
    record["message"] = redactor(record["message"])
    exc = record["exception"]
    if exc is not None:
        record["extra"][EXC_TEXT_KEY] = redactor(render_exception(exc))
        record["exception"] = None


def _format(record: Record) -> str:
    if record["extra"].get(EXC_TEXT_KEY):
        return DEFAULT_FORMAT + "\n{extra[" + EXC_TEXT_KEY + "]}"
    return DEFAULT_FORMAT + "\n"
