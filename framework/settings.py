"""Settings: loaded with dynaconf, validated into typed, immutable structs.

Sources, later ones winning: ``settings.yaml`` (section ``default`` merged with the section of the
selected environment), ``.secrets.yaml`` beside it, environment variables ``TRADELOOP_...``
(nesting with ``__``), then explicit overrides (tests, CLI).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec
from dynaconf import Dynaconf
from dynaconf.utils.parse_conf import parse_conf_data

from framework.errors import SettingsError, raise_settings_errors
from framework.setting_types import HOUR, Asset, PositiveAmount, Seconds, decimal_meta
from framework.settings_files import read_yaml
from framework.settings_prepare import join_path, prepare

ENV_PREFIX = "TRADELOOP"
SETTINGS_ENV_VAR = "TRADELOOP_SETTINGS"
SECRET_KEY = re.compile(r"(^|_)(api_key|api_secret|secret|password|token|passphrase)$")
# Top-level sections that moved into a plugin's block: old section -> new place. A settings
# source that still uses the old one is refused (exit 2) with a line naming the new key.
MOVED_SECTIONS: dict[str, str] = {"sim": "plugins.sim"}

# Keys dynaconf adds to its own output (options echoed back, and TRADELOOP_ENV itself).
DYNACONF_OWN_KEYS = frozenset({"LOAD_DOTENV", "ENV", "SETTINGS", "ENVIRONMENTS", "ENV_SWITCHER"})

Identifier = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$", min_length=1)]


class ExchangeSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which exchange to trade on and how to reach it."""

    name: Identifier = "sim"
    testnet: bool = True
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    rest_url: str = ""
    stream_url: str = ""
    api_key: str = ""
    api_secret: str = ""
    recv_window_ms: Annotated[int, msgspec.Meta(ge=1, le=60000)] = 5000
    mark_price_margin: Annotated[float, msgspec.Meta(ge=0, le=0.5)] = 0.005
    """How far (a fraction) the exchange's mark price may be from the last tick's mid: the
    order API checks PERCENT_PRICE and a MARKET order's MIN_NOTIONAL this far inside their
    bounds, so an order it lets through is not refused for a mark it could not see."""


DEFAULT_HOOK_TIMEOUTS: dict[str, float] = {
    "on_tick": 0.05,
    "on_balance_update": 1.0,
    "on_position_update": 1.0,
    "on_order_update": 1.0,
    "on_fill": 1.0,
    "on_trade_cursor": 1.0,
    "on_reconcile_result": 2.0,
    "on_stream_state": 1.0,
    "on_degraded": 1.0,
    "on_daily_report": 30.0,
    "on_plugin_error": 1.0,
    "on_kill_switch": 1.0,
    "on_kill_switch_resume": 1.0,
    "on_command": 1.0,
    "on_alert": 1.0,
    "reconcile_now": 120.0,
    "lifespan": 30.0,
    "register_jobs": 5.0,
    "provide_exchange": 5.0,
    "check_exchange": 30.0,
    "last_trade_ids": 5.0,
    "warm_up": 30.0,
    "summarize_run": 5.0,
}


class HooksSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How the core calls plugins: time budgets, circuit breaker, queue size."""

    timeouts: dict[str, Seconds] = msgspec.field(
        default_factory=lambda: dict(DEFAULT_HOOK_TIMEOUTS)
    )
    max_failures: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 5
    queue_size: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 10000


class RuntimeSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Event loop and lifecycle."""

    use_uvloop: bool = True
    shutdown_timeout: Annotated[float, msgspec.Meta(ge=0.1, le=HOUR)] = 5.0
    data_dir: str = "data"
    max_tick_age: Annotated[float, msgspec.Meta(gt=0, le=HOUR)] = 5.0
    loop_check_interval: Annotated[float, msgspec.Meta(ge=0.01, le=10)] = 0.1
    loop_stall_warning: Annotated[float, msgspec.Meta(ge=0.01, le=HOUR)] = 0.5


class RiskLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Limits the core enforces before an order of a strategy instance leaves.

    ``max_position``: the largest absolute position per symbol, in base units, counting the
    order and every open order on the same side as if they all filled. ``max_order_notional``:
    quantity times price (limit price, or the best opposite quote for a market order), in the
    quote asset. ``max_open_orders``: open orders of this instance per symbol. ``None``: no limit.
    """

    max_position: PositiveAmount | None = None
    max_order_notional: PositiveAmount | None = None
    max_open_orders: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None

    def __post_init__(self) -> None:
        for name in ("max_position", "max_order_notional"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be greater than 0")

    def merged_over(self, defaults: RiskLimits) -> RiskLimits:
        """These limits, with ``defaults`` filling the keys left at ``None``."""
        return RiskLimits(
            max_position=_first(self.max_position, defaults.max_position),
            max_order_notional=_first(self.max_order_notional, defaults.max_order_notional),
            max_open_orders=_first(self.max_open_orders, defaults.max_open_orders),
        )


_V = TypeVar("_V")


def _first(value: _V | None, default: _V | None) -> _V | None:
    return value if value is not None else default


class KillSwitchSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Account-level limits; reaching one trips the kill switch (docs/strategies.md).

    Equity is the wallet balance of ``asset`` plus the unrealized PnL of every position at the
    last tick's mid. ``max_daily_loss``: the day's starting equity (at 00:00 UTC, or at the
    first reading of the day) minus equity now, in ``asset``. ``max_drawdown``: equity's fall
    from the day's peak, as a fraction of the peak (0.05 is 5 %). ``max_open_notional``: the
    sum over positions of ``|amount| * mark``, in ``asset``. ``None``: no such limit. When one
    is reached every strategy is held and open orders are cancelled; ``close_positions`` also
    closes every position with reduce-only MARKET orders. A trip survives restarts until
    ``tradeloop resume``. ``check_interval``: seconds between checks at the last ticks'
    prices (account events are checked as they come).
    """

    asset: Asset = "USDT"
    max_daily_loss: PositiveAmount | None = None
    max_drawdown: Annotated[Decimal, decimal_meta(gt=0, le=1)] | None = None
    max_open_notional: PositiveAmount | None = None
    close_positions: bool = False
    check_interval: Annotated[float, msgspec.Meta(ge=0.05, le=HOUR)] = 1.0

    @property
    def any_limit(self) -> bool:
        """True when at least one limit is set."""
        return (
            self.max_daily_loss is not None
            or self.max_drawdown is not None
            or self.max_open_notional is not None
        )


class StrategySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One strategy instance: ``use`` names the strategy, ``id`` names this instance."""

    id: Identifier
    use: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    risk: RiskLimits = msgspec.field(default_factory=RiskLimits)
    enabled: bool = True
    required: bool = True


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The validated core settings. Plugin blocks are validated by the loader."""

    exchange: ExchangeSettings = msgspec.field(default_factory=ExchangeSettings)
    plugins: dict[Identifier, dict[str, Any]] = msgspec.field(default_factory=dict)
    strategies: tuple[StrategySettings, ...] = ()
    hooks: HooksSettings = msgspec.field(default_factory=HooksSettings)
    runtime: RuntimeSettings = msgspec.field(default_factory=RuntimeSettings)
    kill_switch: KillSwitchSettings = msgspec.field(default_factory=KillSwitchSettings)
    env: str = "default"

    def as_dict(self) -> dict[str, Any]:
        """Plain data, secrets included: never log this, use ``masked()``."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


PLUGIN_COMMON_KEYS = ("enabled", "required")

S = TypeVar("S")


def convert(raw: Any, schema: type[S], *, prefix: str) -> S:
    """Validate ``raw`` into ``schema``; a failure names the key, the value and what is allowed.

    Before msgspec sees it, ``raw`` goes through ``framework.settings_prepare.prepare``:
    ``Decimal`` bounds, asset-name keys upper-cased, text keys given their variable's text.
    """
    raw = prepare(raw, schema, prefix=prefix, env=environment_texts(os.environ))
    try:
        return msgspec.convert(raw, schema, strict=False, str_keys=True)
    except msgspec.ValidationError as exc:
        raise _settings_error(exc, raw, schema, prefix) from None


def _settings_error(
    exc: msgspec.ValidationError, raw: Any, schema: type[Any], prefix: str
) -> SettingsError:
    text = str(exc)
    match = re.match(r"(?P<what>.*?)(?: - at `\$(?P<path>.*)`)?$", text, re.S)
    what = match.group("what") if match else text
    path = (match.group("path") if match else "") or ""
    parts = _split_path(path)
    if "[...]" in parts:
        parts = _locate_dict_keys(raw, schema, parts)
    unknown = re.match(r"Object contains unknown field `(?P<field>[^`]+)`", what)
    missing = re.match(r"Object missing required field `(?P<field>[^`]+)`", what)
    if unknown:
        parts.append(unknown.group("field"))
        allowed_fields = _fields_at(schema, parts[:-1])
        allowed = "unknown key; allowed keys: " + ", ".join(allowed_fields)
        value = _value_at(raw, parts)
    elif missing:
        parts.append(missing.group("field"))
        allowed = "a value is required"
        value = None
    else:
        named = _field_named_first(what, schema, parts)
        if named:  # a struct's own check ("slow must be greater than fast") names its field
            parts.append(named)
        value = _value_at(raw, parts)
        allowed = _explain(what, _type_at(schema, parts))
    key = ".".join(p for p in [prefix, join_path(parts)] if p)
    return SettingsError(key, value, allowed, secret=is_secret_key(key))


def _field_named_first(what: str, schema: type[Any], parts: list[str]) -> str:
    """The field of the struct at ``parts`` that an error message starts with, or ``""``."""
    first = re.match(r"`?([A-Za-z_]\w*)`?\b", what)
    if first is None:
        return ""
    try:
        fields = _fields_at(schema, parts)
    except Exception:  # noqa: BLE001 - a type msgspec cannot inspect: keep the block's key
        return ""
    return first.group(1) if first.group(1) in fields else ""


def _split_path(path: str) -> list[str]:
    return [p for p in re.split(r"\.|(\[\d+\]|\[\.\.\.\])", path) if p]


def _locate_dict_keys(raw: Any, schema: type[Any], parts: list[str]) -> list[str]:
    """msgspec writes ``[...]`` for a dict value; find the key whose value is the bad one."""
    index = parts.index("[...]")
    mapping = _value_at(raw, parts[:index])
    if not isinstance(mapping, Mapping):
        return parts
    for key, value in mapping.items():
        trial = _replace_at(raw, parts[:index], {key: value})
        try:
            msgspec.convert(trial, schema, strict=False, str_keys=True)
        except msgspec.ValidationError:
            rest = parts[index + 1 :]
            found = [*parts[:index], str(key), *rest]
            return _locate_dict_keys(raw, schema, found) if "[...]" in rest else found
    return parts


def _replace_at(raw: Any, parts: Sequence[str], new: Any) -> Any:
    if not parts:
        return new
    head, rest = parts[0], parts[1:]
    if head.startswith("[") and isinstance(raw, list):
        i = int(head[1:-1])
        return [*raw[:i], _replace_at(raw[i], rest, new), *raw[i + 1 :]]
    if isinstance(raw, Mapping):
        return {**raw, head: _replace_at(raw.get(head), rest, new)}
    return raw


def _value_at(raw: Any, parts: Sequence[str]) -> Any:
    node = raw
    for part in parts:
        if part.startswith("[") and isinstance(node, Sequence):
            index = int(part[1:-1])
            node = node[index] if index < len(node) else None
        elif isinstance(node, Mapping):
            node = node.get(part)
        else:
            return None
    return node


def _type_at(schema: Any, parts: Sequence[str]) -> Any:
    """The msgspec type info of the key at ``parts`` under ``schema``, or ``None``."""
    info: Any = msgspec.inspect.type_info(schema)
    for part in parts:
        info = _bare(info)
        if isinstance(info, msgspec.inspect.StructType):
            info = next((f.type for f in info.fields if f.name == part), None)
        elif isinstance(info, msgspec.inspect.DictType):
            info = info.value_type
        elif isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.VarTupleType)):
            info = info.item_type
        else:
            return None
    return _bare(info)


def _bare(info: Any) -> Any:
    """``info`` without its metadata, and the first non-null type of an optional."""
    while isinstance(info, (msgspec.inspect.UnionType, msgspec.inspect.Metadata)):
        if isinstance(info, msgspec.inspect.Metadata):
            info = info.type
        else:
            info = next(t for t in info.types if not isinstance(t, msgspec.inspect.NoneType))
    return info


def _fields_at(schema: Any, parts: Sequence[str]) -> list[str]:
    info = _type_at(schema, parts)
    if isinstance(info, msgspec.inspect.StructType):
        return [f.name for f in info.fields]
    return []


def _explain(what: str, info: Any) -> str:
    """Turn msgspec's wording into 'what is allowed'."""
    if what.startswith("Invalid enum value") and isinstance(info, msgspec.inspect.LiteralType):
        return "one of " + ", ".join(repr(v) for v in info.values)
    return what.replace("Expected", "expected")


def is_secret_key(dotted_key: str) -> bool:
    """True for keys whose values must never be shown (API keys, secrets, tokens)."""
    last = dotted_key.rsplit(".", 1)[-1]
    return bool(SECRET_KEY.search(last))


def masked(data: Any, prefix: str = "") -> Any:
    """A copy of ``data`` with every secret value replaced by ``***`` (empty stays empty)."""
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if is_secret_key(dotted) and value not in ("", None):
                out[key] = "***"
            else:
                out[key] = masked(value, dotted)
        return out
    if isinstance(data, (list, tuple)):
        return [masked(v, prefix) for v in data]
    return data


def secret_values(data: Any, prefix: str = "") -> list[str]:
    """Every non-empty text value of a secret key in ``data`` (what ``masked`` hides)."""
    out: list[str] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if is_secret_key(dotted) and isinstance(value, str) and value:
                out.append(value)
            else:
                out.extend(secret_values(value, dotted))
    elif isinstance(data, (list, tuple)):
        for value in data:
            out.extend(secret_values(value, prefix))
    return out


def find_settings_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The settings file: explicit path, then $TRADELOOP_SETTINGS, then ./settings.yaml."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsError("--settings", str(path), "an existing YAML file")
        return path
    from_env = os.environ.get(SETTINGS_ENV_VAR)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise SettingsError(SETTINGS_ENV_VAR, from_env, "an existing YAML file")
        return path
    default = Path("settings.yaml")
    return default if default.is_file() else None


def load_raw(
    settings_file: Path | None,
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    problems: list[SettingsError] | None = None,
) -> dict[str, Any]:
    """Merge every source into one plain dict with lower-case top-level keys.

    A secret written into the settings file is an error: raised, or added to ``problems``.
    """
    files: list[str] = []
    if settings_file is not None:
        settings_file = settings_file.resolve()  # dynaconf searches relative names upwards
        content = read_yaml(settings_file)
        found = _secrets_in_settings_file(content)
        found += _sections_outside_environments(content, settings_file.name)
        files.append(str(settings_file))
        secrets = settings_file.with_name(".secrets.yaml")
        if secrets.is_file():
            # read here so that a syntax error names the file, line and column
            found += _sections_outside_environments(read_yaml(secrets), secrets.name)
            files.append(str(secrets))
        if problems is None:
            raise_settings_errors(found)
        else:
            problems.extend(found)
    chosen_by = "--env" if env else f"{ENV_PREFIX}_ENV"
    env = env or os.environ.get(f"{ENV_PREFIX}_ENV") or None
    if env:
        defined = defined_environments([Path(f) for f in files])
        if env.lower() not in defined:
            raise SettingsError(
                chosen_by,
                env,
                "an environment the settings define: " + ", ".join(sorted(defined)),
            )
    options: dict[str, Any] = {
        "environments": True,
        "merge_enabled": True,
        "load_dotenv": False,
        "loaders": [],  # environment variables are read below, keys lower-cased
    }
    if env:
        options["env"] = env
    try:
        loaded = Dynaconf(settings_files=files, **options)
        data: dict[str, Any] = loaded.as_dict()
    except Exception as exc:  # noqa: BLE001 - dynaconf raises many types for a bad file
        raise SettingsError(
            str(settings_file or "environment"), type(exc).__name__, f"valid YAML/TOML: {exc}"
        ) from None
    raw: dict[str, Any] = {
        k.lower(): v
        for k, v in data.items()
        if k not in DYNACONF_OWN_KEYS and not k.endswith("_FOR_DYNACONF")
    }
    raw = deep_merge(raw, _from_environment(os.environ))
    raw["env"] = str(env or loaded.current_env).lower()
    if overrides:
        raw = deep_merge(raw, overrides)
    return raw


DEFAULT_ENV = "development"
"""The environment selected when neither ``--env`` nor ``TRADELOOP_ENV`` names one."""
_NOT_ENVIRONMENTS = frozenset({"global", "dynaconf_merge"})


def defined_environments(files: Sequence[Path]) -> frozenset[str]:
    """The environments ``files`` define (their top-level sections, lower-cased), plus
    ``default`` and ``development`` (the default selection), which always exist."""
    out = {"default", DEFAULT_ENV}
    for path in files:
        content = read_yaml(path)
        if isinstance(content, Mapping):
            out.update(
                str(k).lower() for k, v in content.items() if isinstance(v, Mapping) or v is None
            )
    return frozenset(out - _NOT_ENVIRONMENTS)


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """``TRADELOOP_A__B=value`` as ``{"a": {"b": value}}``; values parsed as dynaconf does."""
    out: dict[str, Any] = {}
    for path, text in _environment_variables(environ):
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = _parse_env_value(text)
    return out


def _environment_variables(environ: Mapping[str, str]) -> list[tuple[list[str], str]]:
    """``(lower-cased key path, text)`` of every ``TRADELOOP_...`` settings variable."""
    out: list[tuple[list[str], str]] = []
    prefix = f"{ENV_PREFIX}_"
    reserved = {f"{ENV_PREFIX}_ENV", SETTINGS_ENV_VAR}
    for name, text in environ.items():
        if not name.startswith(prefix) or name in reserved:
            continue
        path = [p.lower() for p in name[len(prefix) :].split("__") if p]
        if path:
            out.append((path, text))
    return out


def _parse_env_value(text: str) -> Any:
    return parse_conf_data(text, tomlfy=True, box_settings={})


def environment_texts(environ: Mapping[str, str]) -> dict[tuple[str, ...], tuple[str, Any]]:
    """Each ``TRADELOOP_...`` variable by its lower-cased key path: its text and parsed value."""
    out: dict[tuple[str, ...], tuple[str, Any]] = {}
    for path, text in _environment_variables(environ):
        out[tuple(path)] = (text, _parse_env_value(text))
    return out


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``, merging nested mappings instead of replacing them."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _secrets_in_settings_file(content: Any) -> list[SettingsError]:
    """An error for every secret written into ``settings.yaml`` itself (its parsed
    ``content``)."""
    out: list[SettingsError] = []
    for key, value in _walk(content or {}):
        # Strip the environment section name (default., production., ...).
        bare = key.split(".", 1)[1] if "." in key else key
        if bare.split(".", 1)[0] in MOVED_SECTIONS:
            continue  # refused as a moved key, with a line naming where it went
        if is_secret_key(bare) and value not in ("", None):
            out.append(
                SettingsError(
                    bare,
                    value,
                    "secrets do not belong in settings.yaml; put them in .secrets.yaml or in "
                    f"{ENV_PREFIX}_{bare.upper().replace('.', '__')}",
                    secret=True,
                )
            )
    return out


def _sections_outside_environments(content: Any, file: str) -> list[SettingsError]:
    """An error for every settings section written at the top level of ``file`` (its parsed
    ``content``): ``plugins:`` instead of ``default: {plugins: ...}``; read as an environment
    of that name, it would be silently ignored."""
    if not isinstance(content, Mapping):
        return []
    return [
        SettingsError(
            str(key),
            f"a section at the top level of {file}",
            "settings go under an environment: `default:` (every environment) or one such as "
            "`production:` (docs/settings.md)",
        )
        for key in content
        if str(key).lower() in _SECTION_KEYS
    ]


_SECTION_KEYS = frozenset(f for f in Settings.__struct_fields__ if f != "env")
"""The core settings' top-level keys: never an environment's name."""


def _walk(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            out.append((dotted, value))
            out.extend(_walk(value, dotted))
    return out


def moved_key_errors(raw: Mapping[str, Any]) -> list[SettingsError]:
    """An error naming the new key for every key of a section that moved."""
    out: list[SettingsError] = []
    for old, new in MOVED_SECTIONS.items():
        if old not in raw:
            continue
        leaves = [k for k, v in _walk(raw[old]) if not isinstance(v, Mapping)] or [""]
        for rest in leaves:
            old_key = f"{old}.{rest}" if rest else old
            new_key = f"{new}.{rest}" if rest else new
            value = _value_at(raw[old], rest.split(".")) if rest else raw[old]
            env_name = f"{ENV_PREFIX}_{new_key.upper().replace('.', '__')}"
            out.append(
                SettingsError(
                    old_key,
                    value,
                    f"this key moved: set {new_key} instead (in the environment: {env_name})",
                    secret=is_secret_key(old_key),
                )
            )
    return out


def rule_errors(settings: Settings, positions: Sequence[int]) -> list[SettingsError]:
    """The core's checks across keys (unique strategy ids, hook names, plugin switches).

    ``positions``: where each of ``settings.strategies`` stands in the settings file.
    """
    out: list[SettingsError] = []
    seen: set[str] = set()
    for index, strategy in zip(positions, settings.strategies, strict=True):
        if strategy.id in seen:
            out.append(
                SettingsError(
                    f"strategies[{index}].id", strategy.id, "a unique id per strategy instance"
                )
            )
        seen.add(strategy.id)
    for hook in settings.hooks.timeouts:
        if hook not in DEFAULT_HOOK_TIMEOUTS:
            out.append(
                SettingsError(
                    f"hooks.timeouts.{hook}",
                    settings.hooks.timeouts[hook],
                    "a key naming a hook: " + ", ".join(DEFAULT_HOOK_TIMEOUTS),
                )
            )
    for name, block in settings.plugins.items():
        for key in PLUGIN_COMMON_KEYS:
            if key in block and not isinstance(block[key], bool):
                out.append(SettingsError(f"plugins.{name}.{key}", block[key], "true or false"))
    return out


def load_settings(
    settings_file: str | os.PathLike[str] | None = None,
    *,
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    use_files: bool = True,
) -> Settings:
    """Load and validate the core settings (plugin blocks are checked by the loader).

    Every bad key is reported at once: ``SettingsErrors`` when there are several.
    """
    from framework.settings_collect import check_core  # it builds on this module

    core = check_core(settings_file, env=env, overrides=overrides, use_files=use_files)
    raise_settings_errors(core.errors)
    if core.settings is None:  # pragma: no cover - no settings means at least one error
        raise AssertionError("settings failed without an error")
    return core.settings
