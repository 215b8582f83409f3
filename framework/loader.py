"""Builds the plugin manager from settings: built-ins, third-party plugins and strategies.

Built-in plugins are entry points of the ``tradeloop`` distribution itself, so they go through
exactly the same code path as third-party ones. Built-ins are enabled unless their block says
``enabled: false``; third-party plugins only when their block says ``enabled: true``. A disabled
plugin is never imported. An enabled plugin that fails to import, validate or register stops
startup (``PluginLoadError``, exit 2) unless its block says ``required: false``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from loguru import logger

from framework import hookspecs
from framework.bus import HookBus, Outcome
from framework.errors import PluginLoadError, SettingsError, TradeloopError, raise_settings_errors
from framework.hooks import Hooks
from framework.settings import PLUGIN_COMMON_KEYS, Settings
from framework.settings_collect import CoreCheck, convert_all

PLUGIN_GROUP = "tradeloop.plugins"
# Built-ins in this group ship disabled (e.g. a webhook that needs a URL): enabled only by
# ``enabled: true`` in their settings block, like third-party plugins.
OPT_IN_GROUP = "tradeloop.plugins.opt_in"
STRATEGY_GROUP = "tradeloop.strategies"
BUILTIN_DISTRIBUTION = "tradeloop"
STRATEGY_PREFIX = "strategy:"
DEFAULT_START_PRIORITY = 100
SYNC_ONLY_HOOKS = frozenset({"declare_settings", "validate_settings", "register_commands"})


@dataclass
class PluginInfo:
    """What ``tradeloop plugins`` shows about one plugin or strategy instance."""

    name: str
    kind: str  # "plugin" or "strategy"
    source: str  # "built-in", "<distribution> <version>", or where a strategy comes from
    value: str  # the entry point's "module:attr"
    enabled: bool
    loaded: bool = False
    error: str = ""
    hooks: list[str] = field(default_factory=list)


@dataclass
class LoadedPlugins:
    """The result of loading: the manager, what was loaded, each plugin's settings, and the
    setup hooks (``hooks``: a facade over a bus of its own, for the questions asked before a
    bot runs: ``validate_settings``, ``register_commands``)."""

    pm: pluggy.PluginManager
    infos: list[PluginInfo]
    configs: dict[str, Any]
    order: list[str]
    hooks: Hooks

    @property
    def strategy_names(self) -> list[str]:
        """Plugin names of the loaded strategy instances."""
        return [n for n in self.order if n.startswith(STRATEGY_PREFIX)]

    def info(self, name: str) -> PluginInfo | None:
        """The record of one plugin by name."""
        return next((i for i in self.infos if i.name == name), None)


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with the tradeloop hookspecs and nothing registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _source(ep: EntryPoint | None) -> str:
    if ep is None:
        return "not installed"
    dist = ep.dist
    if dist is None:
        return "unknown distribution"
    if dist.name == BUILTIN_DISTRIBUTION:
        return "built-in"
    return f"{dist.name} {dist.version}"


def discover(group: str) -> dict[str, EntryPoint]:
    """Installed entry points of ``group``: built-ins first (declared order), then the rest."""
    found = list(entry_points(group=group))
    builtins = [ep for ep in found if ep.dist is not None and ep.dist.name == BUILTIN_DISTRIBUTION]
    others = sorted((ep for ep in found if ep not in builtins), key=lambda ep: ep.name)
    table: dict[str, EntryPoint] = {}
    for ep in [*builtins, *others]:
        table.setdefault(ep.name, ep)
    return table


def is_builtin(ep: EntryPoint | None) -> bool:
    """True for entry points of the tradeloop distribution itself."""
    return ep is not None and ep.dist is not None and ep.dist.name == BUILTIN_DISTRIBUTION


def enabled_by_default(ep: EntryPoint | None) -> bool:
    """Built-ins are on unless they are in the opt-in group; third-party plugins are off."""
    return is_builtin(ep) and ep is not None and ep.group != OPT_IN_GROUP


def discover_plugins() -> dict[str, EntryPoint]:
    """Plugin entry points of both groups (a name in both: the default-on one wins)."""
    table = discover(PLUGIN_GROUP)
    for name, ep in discover(OPT_IN_GROUP).items():
        table.setdefault(name, ep)
    return table


def load_plugins(
    settings: Settings,
    *,
    extra: Sequence[tuple[str, object]] = (),
    plugin_table: Mapping[str, EntryPoint] | None = None,
    strategy_table: Mapping[str, EntryPoint] | None = None,
    strategy_index: Sequence[int] | None = None,
    bot_folder: Path | None = None,
) -> LoadedPlugins:
    """Import, validate and register every enabled plugin and strategy instance.

    ``extra`` are ready-made plugin objects (tests, embedding) registered after the others.
    Every bad key of every plugin block and strategy's ``params`` is collected, then raised at
    once (``SettingsErrors`` for several). ``strategy_index``: where each of
    ``settings.strategies`` stands in the settings file (for the keys errors name).
    ``bot_folder``: the settings file's folder; a ``module:Class`` strategy is imported from it
    or its ``strategies/`` (see ``bot_import_paths``) without ``PYTHONPATH``.
    """
    pm = new_plugin_manager()
    hooks = Hooks(HookBus(pm, settings.hooks), None)
    table = dict(plugin_table if plugin_table is not None else discover_plugins())
    strategies = dict(strategy_table if strategy_table is not None else discover(STRATEGY_GROUP))
    result = LoadedPlugins(pm=pm, infos=[], configs={}, order=[], hooks=hooks)
    errors: list[SettingsError] = []

    for name, block in settings.plugins.items():
        if name not in table and block.get("required", True) and block.get("enabled", True):
            known = ", ".join(sorted(table)) or "none installed"
            errors.append(
                SettingsError(f"plugins.{name}", block, f"the name of a known plugin ({known})")
            )
    unknown = {e.key.removeprefix("plugins.") for e in errors}

    for name in [*table, *(n for n in settings.plugins if n not in table)]:
        ep = table.get(name)
        block = settings.plugins.get(name, {})
        enabled = bool(block.get("enabled", enabled_by_default(ep)))
        info = PluginInfo(name, "plugin", _source(ep), ep.value if ep else "", enabled)
        result.infos.append(info)
        if not enabled or name in unknown:
            pm.set_blocked(name)  # never imported; nothing can register under this name
            continue
        required = bool(block.get("required", True))
        try:
            if ep is None:
                raise LookupError("enabled in settings but not installed")
            factory = ep.load()
            own = {k: v for k, v in block.items() if k not in PLUGIN_COMMON_KEYS}
            config = _validate_block(hooks, name, factory, own, f"plugins.{name}")
            plugin = _instantiate(factory, config)
            _register(pm, plugin, name)
        except SettingsError as exc:
            errors.append(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - any failure of a plugin is reported as its own
            _fail(info, exc, required)
            continue
        _record_loaded(result, info, config)

    positions = strategy_index if strategy_index is not None else range(len(settings.strategies))
    for index, strategy in zip(positions, settings.strategies, strict=True):
        name = STRATEGY_PREFIX + strategy.id
        ep = strategies.get(strategy.use)
        source = f"strategy {strategy.use!r} ({_source(ep) if ep else 'module path'})"
        info = PluginInfo(name, "strategy", source, ep.value if ep else strategy.use, True)
        info.enabled = strategy.enabled
        result.infos.append(info)
        if not strategy.enabled:
            pm.set_blocked(name)
            continue
        try:
            if ep is not None:
                factory = ep.load()
            else:
                factory = _import_path(strategy.use, strategies, bot_folder)
            config = _validate_block(
                hooks, name, factory, strategy.params, f"strategies[{index}].params"
            )
            plugin = _instantiate(factory, config)
            if not isinstance(plugin, ModuleType):
                plugin.strategy_id = strategy.id
            _register(pm, plugin, name)
        except SettingsError as exc:
            errors.append(exc)
            continue
        except Exception as exc:  # noqa: BLE001
            _fail(info, exc, strategy.required)
            continue
        _record_loaded(result, info, config)

    raise_settings_errors(errors)

    for name, plugin in extra:
        try:
            _register(pm, plugin, name)
        except Exception as exc:
            raise PluginLoadError(name, "registered in code", _cause(exc)) from exc
        result.infos.append(PluginInfo(name, "plugin", "registered in code", "", True, True))
        result.order.append(name)
        result.infos[-1].hooks = _hooks_of(pm, name)

    # Lifespans start in this order: by the plugin's ``start_priority`` (lower first, default
    # 100; smart_logging uses 0 so every later start is logged through it), then load order
    # (plugins registered in code come last).
    rank = {name: i for i, name in enumerate(result.order)}
    result.order.sort(key=lambda n: (_start_priority(pm.get_plugin(n)), rank[n]))
    return result


def _record_loaded(result: LoadedPlugins, info: PluginInfo, config: Any) -> None:
    result.configs[info.name] = config
    result.order.append(info.name)
    info.loaded = True
    info.hooks = _hooks_of(result.pm, info.name)


def _start_priority(plugin: object) -> int:
    value = getattr(plugin, "start_priority", DEFAULT_START_PRIORITY)
    return value if isinstance(value, int) else DEFAULT_START_PRIORITY


def _fail(info: PluginInfo, exc: BaseException, required: bool) -> None:
    info.error = _cause(exc)
    label = f"{info.source}, {info.value}" if info.value else info.source
    if required:
        raise PluginLoadError(info.name, label, info.error) from exc
    logger.opt(exception=exc).error(
        "plugin {!r} ({}) failed to load: {}; skipped because required: false",
        info.name,
        label,
        info.error,
    )


def _cause(exc: BaseException) -> str:
    """One line: the exception type and its message, lines joined."""
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def bot_import_paths(bot_folder: Path) -> list[Path]:
    """Where a bot's own ``module:Class`` strategies are imported from: the folder of its
    settings file and that folder's ``strategies/`` (what ``tradeloop init`` makes)."""
    folders = [bot_folder / "strategies", bot_folder]
    return [f.resolve() for f in folders if f.is_dir()]


def _add_bot_import_paths(bot_folder: Path) -> None:
    """Put the bot's folders first on ``sys.path`` (as ``PYTHONPATH`` would), once each."""
    for folder in reversed(bot_import_paths(bot_folder)):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    importlib.invalidate_caches()


def _import_path(
    use: str, strategies: Mapping[str, EntryPoint], bot_folder: Path | None = None
) -> Any:
    if ":" not in use:
        known = ", ".join(sorted(strategies)) or "none installed"
        raise LookupError(f"no strategy named {use!r} (known: {known}; or give 'module:Class')")
    if bot_folder is not None:
        _add_bot_import_paths(bot_folder)
    module_name, _, attr = use.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def _declared_schema(hooks: Hooks, name: str, factory: Any) -> type | None:
    outcome = hooks.declare_settings(plugin=name, factory=factory)
    if outcome is None:
        return None
    if outcome.error is not None:
        raise outcome.error
    schema = outcome.value
    if schema is not None and not isinstance(schema, type):
        raise TypeError(f"declare_settings() must return a type, not {type(schema).__name__}")
    return schema


def _validate_block(
    hooks: Hooks, name: str, factory: Any, own: Mapping[str, Any], prefix: str
) -> Any:
    """The plugin's own keys validated against what it declares."""
    schema = _declared_schema(hooks, name, factory)
    if schema is None:
        raise_settings_errors(
            [
                SettingsError(f"{prefix}.{key}", value, "no keys (this plugin has none)")
                for key, value in own.items()
            ]
        )
        return None
    config, errors = convert_all(own, schema, prefix=prefix)
    raise_settings_errors(errors)
    return config


def _instantiate(factory: Any, config: Any) -> Any:
    if isinstance(factory, ModuleType):
        return factory
    if inspect.isclass(factory) or callable(factory):
        return factory(config) if config is not None else factory()
    raise TypeError(f"entry point names {type(factory).__name__}, not a module or class")


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        if pm.register(plugin, name=name) is None:
            raise ValueError(f"the name {name!r} is blocked")
        _check_impls(pm, plugin, name)
    except Exception:
        if pm.has_plugin(name):
            pm.unregister(name=name)
        raise


def _check_impls(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    for caller in pm.get_hookcallers(plugin) or ():
        impls = [i for i in caller.get_hookimpls() if i.plugin_name == name]
        if caller.spec is None and not all(i.optionalhook for i in impls):
            raise pluggy.PluginValidationError(plugin, f"unknown hook {caller.name!r}")
        for impl in impls:
            if impl.wrapper or impl.hookwrapper:
                raise pluggy.PluginValidationError(
                    plugin, f"{caller.name}: hook wrappers are not supported"
                )
            if caller.name in SYNC_ONLY_HOOKS and inspect.iscoroutinefunction(impl.function):
                raise pluggy.PluginValidationError(
                    plugin, f"{caller.name} must be a plain (not async) function"
                )


def _hooks_of(pm: pluggy.PluginManager, name: str) -> list[str]:
    plugin = pm.get_plugin(name)
    return sorted(c.name for c in pm.get_hookcallers(plugin) or ())


def run_validate_settings(loaded: LoadedPlugins, settings: Settings) -> None:
    """Ask every plugin to check cross-section settings; a failure is attributed to it.

    The ``SettingsError`` of every plugin is raised at once; any other failure at once."""
    errors: list[SettingsError] = []
    for outcome in loaded.hooks.validate_settings(settings):
        if isinstance(outcome.error, SettingsError):
            errors.append(outcome.error)
        else:
            raise_load_error(loaded, outcome)
    raise_settings_errors(errors)


def load_checked(
    core: CoreCheck, extra: Sequence[tuple[str, object]] = ()
) -> tuple[Settings, LoadedPlugins]:
    """The settings and plugins of a ``check_core`` result, every settings error of the core
    and of every plugin block raised at once (``SettingsErrors`` for several, exit 2).
    ``extra``: ready-made plugin objects, as ``load_plugins`` takes them.

    Plugin blocks are checked even when core keys are bad; the cross-section checks
    (``validate_settings``) run once every key is valid on its own.
    """
    if core.settings is None:
        raise_settings_errors(core.errors)
        raise AssertionError("no settings and no error")  # pragma: no cover
    try:
        loaded = load_plugins(
            core.settings,
            extra=extra,
            strategy_index=core.strategy_index,
            bot_folder=core.bot_folder,
        )
    except SettingsError as exc:
        raise_settings_errors([*core.errors, exc])
        raise
    except TradeloopError:
        raise_settings_errors(core.errors)  # bad keys first: they may be the cause
        raise
    raise_settings_errors(core.errors)
    run_validate_settings(loaded, core.settings)
    return core.settings, loaded


def raise_load_error(loaded: LoadedPlugins, outcome: Outcome) -> None:
    """A failed setup hook stops loading: a ``SettingsError`` as it is (exit 2 naming the
    key), anything else as the plugin's ``PluginLoadError``."""
    exc = outcome.error
    if exc is None:
        return
    if isinstance(exc, SettingsError):
        raise exc
    info = loaded.info(outcome.plugin)
    raise PluginLoadError(outcome.plugin, info.source if info else "?", _cause(exc)) from exc
