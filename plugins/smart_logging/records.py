"""The filter on every handler of the plugin: levels, rate limit, redaction and attribution.

loguru calls a handler's filter once per record and handler. The first call decides, for all of
the plugin's handlers at once, and caches its verdict on the record (``extra["_sl_pass"]``).
A record that passes is prepared once for every sink: message redacted, exception rendered and
redacted into ``extra["_sl_exc"]``, plugin and strategy attributed.

Everything lives on the handlers (not in a ``patcher``) so removing the handlers leaves loguru
as it was. When the core's guard (``framework.log_guard``) runs, as it does under ``Bot``, it has
already rendered and redacted the exception into ``extra["_exc"]`` without variable values;
the plugin redacts that text again with its own ``redact_patterns``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loguru import logger

from framework.log_guard import EXC_TEXT_KEY, render_exception
from framework.redact import Redactor

from .intercept import STDLIB_KEY
from .limiter import RateLimiter, Repeat

if TYPE_CHECKING:
    from loguru import Record

VERDICT_KEY = "_sl_pass"
REPEAT_KEY = "_sl_repeat"
EXC_KEY = "_sl_exc"
TAG_KEY = "_sl_tag"
PLUGIN_KEY = "_sl_plugin"
STRATEGY_KEY = "_sl_strategy"
INTERNAL_PREFIX = "_sl_"
STRATEGY_PREFIX = "strategy:"

# (module, function, line, plugin, log_key): log_key is an optional bound extra that splits
# one call site into several keys (e.g. one per stream).
Key = tuple[str | None, str, int, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Site:
    """Where a suppressed message came from, to write its aggregated line there."""

    level: str
    name: str | None
    function: str
    line: int
    module: str
    file: Any
    plugin: Any
    strategy: Any


def site_of(record: Record) -> Site:
    """The call site and bound plugin/strategy of ``record``."""
    extra = record["extra"]
    return Site(
        level=record["level"].name,
        name=record["name"],
        function=record["function"],
        line=record["line"],
        module=record["module"],
        file=record["file"],
        plugin=extra.get("plugin"),
        strategy=extra.get("strategy"),
    )


def describe_key(key: Any) -> str:
    """A key as text: ``module:function:line`` plus `` [plugin]`` when one was bound."""
    name, function, line, plugin, log_key = key
    text = f"{name}:{function}:{line}" + (f"/{log_key}" if log_key else "")
    return f"{text} [{plugin}]" if plugin else text


def format_span(seconds: float) -> str:
    """Seconds with three significant digits: 0.000412, 1.5, 12.3."""
    return f"{seconds:.3g}"


class LevelTable:
    """The minimum level of a module: the longest matching prefix in ``levels``, else default."""

    def __init__(self, default: int, levels: Mapping[str, int]) -> None:
        self.default = default
        self.levels = dict(levels)
        self.floor = min([default, *self.levels.values()])
        self._cache: dict[str | None, int] = {}

    def __call__(self, name: str | None) -> int:
        """Minimum level number for records of module ``name``."""
        found = self._cache.get(name)
        if found is None:
            found = self.default
            if name is not None:
                parts = name.split(".")
                for end in range(len(parts), 0, -1):
                    level = self.levels.get(".".join(parts[:end]))
                    if level is not None:
                        found = level
                        break
            self._cache[name] = found
        return found


class Attribution:
    """Which plugin a module belongs to, from ``{module prefix: plugin name}``."""

    def __init__(self, modules: Mapping[str, str] | None = None) -> None:
        self.modules = dict(modules or {})
        self._cache: dict[str | None, str | None] = {}

    def __call__(self, name: str | None) -> str | None:
        """The plugin owning module ``name`` (longest prefix), or ``None``."""
        if name in self._cache:
            return self._cache[name]
        found = None
        if name is not None and self.modules:
            parts = name.split(".")
            for end in range(len(parts), 0, -1):
                found = self.modules.get(".".join(parts[:end]))
                if found is not None:
                    break
        self._cache[name] = found
        return found


class RecordFilter:
    """The ``filter`` of every handler the plugin adds (see the module docstring)."""

    def __init__(
        self,
        *,
        limiter: RateLimiter[Record],
        redactor: Redactor,
        levels: LevelTable,
        attribution: Attribution,
        emit_repeat: Callable[[Repeat], None],
    ) -> None:
        self.limiter = limiter
        self.redactor = redactor
        self.levels = levels
        self.attribution = attribution
        self.emit_repeat = emit_repeat
        self._per_module = bool(levels.levels)

    def __call__(self, record: Record) -> bool:
        """True if the record is written (decided once for all the plugin's handlers)."""
        extra = record["extra"]
        verdict: bool | None = extra.get(VERDICT_KEY)
        if verdict is None:
            verdict = extra[VERDICT_KEY] = self._decide(record)
        return verdict

    def _decide(self, record: Record) -> bool:
        extra = record["extra"]
        if REPEAT_KEY not in extra:
            levelno = record["level"].no
            # stdlib records were filtered by their loggers' levels already (set from ``levels``)
            if (
                self._per_module
                and STDLIB_KEY not in extra
                and levelno < self.levels(record["name"])
            ):
                return False
            key: Key = (
                record["name"],
                record["function"],
                record["line"],
                extra.get("plugin"),
                extra.get("log_key"),
            )
            admitted, repeat = self.limiter.admit(key, levelno, record["message"], record)
            if repeat is not None:
                self.emit_repeat(repeat)  # the closed window's line comes before this record
            if not admitted:
                return False
        self._prepare(record)
        return True

    def _prepare(self, record: Record) -> None:
        redact = self.redactor
        record["message"] = redact(record["message"])
        extra = record["extra"]
        exc = record["exception"]
        if exc is not None:  # the core's guard is not installed (the plugin used on its own)
            extra[EXC_KEY] = redact(render_exception(exc))
            record["exception"] = None  # no sink may print the unredacted original
        else:  # rendered without variable values and redacted by the core's guard
            extra[EXC_KEY] = redact(extra.get(EXC_TEXT_KEY, ""))
        plugin = extra.get("plugin")
        plugin = str(plugin) if plugin is not None else self.attribution(record["name"])
        strategy = extra.get("strategy")
        if strategy is not None:
            strategy = str(strategy)
        elif plugin is not None and plugin.startswith(STRATEGY_PREFIX):
            strategy = plugin[len(STRATEGY_PREFIX) :]
        extra[PLUGIN_KEY] = plugin
        extra[STRATEGY_KEY] = strategy
        extra[TAG_KEY] = f" [{plugin}]" if plugin else ""


def write_repeat(repeat: Repeat) -> None:
    """Log the aggregated line of ``repeat`` at the original call site, level and plugin."""
    site: Site = repeat.site

    def at_site(record: Record) -> None:
        record["name"] = site.name
        record["function"] = site.function
        record["line"] = site.line
        record["module"] = site.module
        record["file"] = site.file

    bound: dict[str, Any] = {REPEAT_KEY: (repeat.count, repeat.span)}
    if site.plugin is not None:
        bound["plugin"] = site.plugin
    if site.strategy is not None:
        bound["strategy"] = site.strategy
    logger.patch(at_site).bind(**bound).log(
        site.level,
        "{} (repeated {} in {} s)",
        repeat.message,
        "once" if repeat.count == 1 else f"{repeat.count} times",
        format_span(repeat.span),
    )
