"""The cheap path of a suppressed record: decided in front of loguru, before it builds one.

loguru captures the frame, takes the time, merges the extras and formats the message for every
record before any handler's filter runs (~8-13 µs), so a record the rate limit suppresses cost
that much even though nothing is written. While the plugin is installed, ``install_gate`` puts
a small gate in front of ``Logger._log``: from the caller's frame and the bound extras it builds
the record's key, and when that key's window is open it counts the record as suppressed and
returns, with no record, no formatting and no handler call. Everything else goes to loguru
unchanged and the handlers' filter decides, as before.

The gate only short-cuts when the answer cannot differ from the filter's: the logger's handlers
are exactly the plugin's own (a sink added by other code sees every record, as documented), and
the call uses no option that changes the record's site or extras (keyword arguments, ``lazy``,
``record``, ``colors``, an exception, a patcher other than the core's redacting guard). It
relies on loguru's ``Logger._log`` signature (0.7); ``tests/smart_logging/test_sl_gate.py``
pins that it behaves like the filter.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from os.path import basename, splitext
from typing import Any

from loguru._logger import Logger, context
from loguru._recattrs import RecordFile

from framework.log_guard import is_guard_patcher

from .intercept import STDLIB_KEY
from .limiter import RateLimiter
from .records import REPEAT_KEY, LevelTable, Site

_LogCall = Callable[..., None]
_original_log: _LogCall = getattr(Logger, "_log")  # noqa: B009 - a private method
_active: SuppressGate | None = None


class SuppressGate:
    """Answers "is this call suppressed?" from the call alone (see the module docstring)."""

    def __init__(self, limiter: RateLimiter[Any], levels: LevelTable, handlers: object) -> None:
        self.limiter = limiter
        self.levels = levels
        self.handlers = handlers  # loguru's handler dict holding exactly the plugin's handlers
        self.always = limiter.always_level
        self._per_module = bool(levels.levels)

    def suppressed(
        self, core: Any, level: Any, options: tuple[Any, ...], message: Any, args: Any, kw: Any
    ) -> bool:
        """True when the call was dropped here (suppressed and counted, or below its module's
        level); False to let loguru build the record."""
        if core.handlers is not self.handlers or kw:
            return False
        if core.patcher is not None and not is_guard_patcher(core.patcher):
            return False  # a patcher of the application's may move the record's site
        exception, depth, record, lazy, colors, _raw, _capture, patchers, extra = options
        if exception or record or lazy or colors or patchers:
            return False
        if REPEAT_KEY in extra or STDLIB_KEY in extra:
            return False
        found = core.levels_lookup.get(level) if isinstance(level, str) else None
        if found is None:
            return False
        level_name, levelno = found[1], found[2]
        if levelno >= self.always or levelno < core.min_level:
            return False
        try:
            # 0: here, 1: the gate's _log, 2: Logger.warning & co, 3: the caller (+ depth)
            frame = sys._getframe(depth + 3)
        except ValueError:
            return False
        name = frame.f_globals.get("__name__")
        if core.enabled.get(name) is not True:
            return False  # not seen yet, or disabled: loguru decides
        if self._per_module and levelno < self.levels(name):
            return True  # the filter drops it uncounted, and no other handler exists
        bound = extra
        if "plugin" not in bound or "log_key" not in bound or "strategy" not in bound:
            bound = {**core.extra, **context.get(), **extra}
        plugin = bound.get("plugin")
        code = frame.f_code
        line = frame.f_lineno
        key = (name, code.co_name, line, plugin, bound.get("log_key"))

        def site() -> Site:
            filename = code.co_filename
            base = basename(filename)
            return Site(
                level=level_name,
                name=name,
                function=code.co_name,
                line=line,
                module=splitext(base)[0],
                file=RecordFile(base, filename),  # type: ignore[no-untyped-call]
                plugin=plugin,
                strategy=bound.get("strategy"),
            )

        return self.limiter.suppress_early(key, message, args, site)


def _gated_log(
    self: Any, level: Any, from_decorator: Any, options: Any, message: Any, args: Any, kw: Any
) -> None:
    gate = _active
    if gate is not None and gate.suppressed(self._core, level, options, message, args, kw):
        return
    # One more frame (this one) between the caller and loguru's _log.
    _original_log(
        self, level, from_decorator, (options[0], options[1] + 1, *options[2:]), message, args, kw
    )


def install_gate(gate: SuppressGate) -> None:
    """Put ``gate`` in front of every loguru logger (one gate at a time)."""
    global _active
    _active = gate
    setattr(Logger, "_log", _gated_log)  # noqa: B010 - loguru has no public hook here


def remove_gate(gate: SuppressGate) -> None:
    """Take ``gate`` away and give loguru its own ``_log`` back (if ``gate`` is in place)."""
    global _active
    if _active is gate:
        _active = None
        setattr(Logger, "_log", _original_log)  # noqa: B010
