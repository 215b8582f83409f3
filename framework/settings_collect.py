"""Every error of a settings block at once, each naming its key.

msgspec stops at the first error of a struct. When a block fails, it is validated again part by
part (each field of a struct, each item of a list, each entry of a dict, down to the leaves), so
that every bad key gets its own ``SettingsError``. Only the failure path pays for this.
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from framework.errors import SettingsError
from framework.settings import (
    MOVED_SECTIONS,
    Settings,
    convert,
    find_settings_file,
    is_secret_key,
    load_raw,
    moved_key_errors,
    rule_errors,
)
from framework.settings_prepare import is_asset

S = TypeVar("S")


def convert_all(raw: Any, schema: type[S], *, prefix: str) -> tuple[S | None, list[SettingsError]]:
    """``raw`` validated into ``schema``, or ``None`` and every error found (in key order)."""
    try:
        return convert(raw, schema, prefix=prefix), []
    except SettingsError as first:
        return None, _split(raw, schema, prefix) or [first]


def errors_of(raw: Any, schema: Any, *, prefix: str) -> list[SettingsError]:
    """Every error of ``raw`` against ``schema`` (any type msgspec converts to)."""
    try:
        convert(raw, schema, prefix=prefix)
    except SettingsError as first:
        return _split(raw, schema, prefix) or [first]
    return []


def _split(raw: Any, tp: Any, prefix: str) -> list[SettingsError]:
    """The errors of the parts of ``raw``; empty when they are all fine on their own (then the
    whole fails by a check of its own, which the caller reports)."""
    tp = _bare(tp, raw)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct) and isinstance(raw, Mapping):
        return _struct_errors(raw, tp, prefix)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, tuple) and isinstance(raw, (list, tuple)):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return []
        item = args[0] if args else Any
        return [e for i, v in enumerate(raw) for e in errors_of(v, item, prefix=f"{prefix}[{i}]")]
    if origin is dict and isinstance(raw, Mapping) and len(args) == 2:
        out: list[SettingsError] = []
        upper = is_asset(msgspec.inspect.type_info(args[0]))
        for key, value in raw.items():
            name = key.upper() if upper and isinstance(key, str) else str(key)
            found = errors_of(value, args[1], prefix=_join(prefix, name))
            out.extend(found or _key_errors({key: value}, tp, prefix))
        return out
    return []


def _key_errors(raw: Any, tp: Any, prefix: str) -> list[SettingsError]:
    """The error of a dict entry whose value is fine on its own: its key."""
    try:
        convert(raw, tp, prefix=prefix)
    except SettingsError as exc:
        (key,) = raw
        allowed = re.sub(r" - at `key` in `\$`$", "", exc.allowed)
        return [SettingsError(_join(prefix, str(key)), key, f"a key {allowed}")]
    return []


def _struct_errors(
    raw: Mapping[str, Any], schema: type[msgspec.Struct], prefix: str
) -> list[SettingsError]:
    fields = {f.encode_name: f for f in msgspec.structs.fields(schema)}
    hints = typing.get_type_hints(schema, include_extras=True)
    out: list[SettingsError] = []
    for key, value in raw.items():
        name = _join(prefix, str(key))
        if key in fields:
            out.extend(errors_of(value, hints[fields[key].name], prefix=name))
        else:
            allowed = "unknown key; allowed keys: " + ", ".join(f.name for f in fields.values())
            out.append(SettingsError(name, value, allowed, secret=is_secret_key(name)))
    for key, field in fields.items():
        if field.required and key not in raw:
            out.append(SettingsError(_join(prefix, key), None, "a value is required"))
    return out


def _bare(tp: Any, raw: Any) -> Any:
    """``tp`` without ``Annotated``, and an optional's other type when ``raw`` is not None."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, _UnionType) and raw is not None:
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


_UnionType = type(int | None)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


@dataclass(frozen=True)
class CoreCheck:
    """The core settings checked, every error kept.

    ``settings``: valid settings, or, when some keys are bad, the settings without the parts
    that hold them (so plugin blocks can still be checked); ``None`` if nothing is usable.
    ``strategy_index``: where each of ``settings.strategies`` stands in the settings file.
    ``bot_folder``: the settings file's folder (``None`` without a file).
    """

    raw: dict[str, Any]
    settings: Settings | None
    errors: list[SettingsError]
    strategy_index: tuple[int, ...]
    bot_folder: Path | None


def check_core(
    settings_file: str | os.PathLike[str] | None = None,
    *,
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    use_files: bool = True,
) -> CoreCheck:
    """Load every source and check the core settings, collecting every error.

    A missing file or a YAML syntax error still raises at once (nothing else can be read).
    """
    path = find_settings_file(settings_file) if use_files else None
    errors: list[SettingsError] = []
    raw = load_raw(path, env, overrides, problems=errors)
    errors.extend(moved_key_errors(raw))
    rest = {k: v for k, v in raw.items() if k not in MOVED_SECTIONS}
    strategies = rest.get("strategies")
    positions = list(range(len(strategies))) if isinstance(strategies, list) else []
    settings, found = convert_all(rest, Settings, prefix="")
    errors.extend(found)
    if settings is None:
        rest, positions = _without(rest, found, positions)
        settings, _ = convert_all(rest, Settings, prefix="")
    if settings is not None:
        rules = rule_errors(settings, positions)
        errors.extend(rules)
        if rules:
            rest, positions = _without(rest, rules, positions)
            settings, _ = convert_all(rest, Settings, prefix="")
    folder = path.resolve().parent if path is not None else None
    return CoreCheck(raw, settings, errors, tuple(positions), folder)


def _without(
    raw: dict[str, Any], errors: list[SettingsError], positions: list[int]
) -> tuple[dict[str, Any], list[int]]:
    """``raw`` without the parts holding ``errors``: a strategy entry, a plugin block, or a
    whole top-level section; and the file positions of the strategy entries left."""
    drop: set[str] = set()
    drop_index: set[int] = set()
    plugins = raw.get("plugins")
    names = list(plugins) if isinstance(plugins, Mapping) else []
    drop_plugins: set[Any] = set()
    for error in errors:
        entry = re.match(r"strategies\[(\d+)\]", error.key)
        plugin = next(
            (
                n
                for n in names
                if error.key == f"plugins.{n}" or error.key.startswith(f"plugins.{n}.")
            ),
            None,
        )
        if entry:
            drop_index.add(int(entry.group(1)))
        elif plugin is not None:
            drop_plugins.add(plugin)
        else:
            drop.add(re.split(r"[.\[]", error.key, maxsplit=1)[0])
    out = {k: v for k, v in raw.items() if k not in drop}
    if isinstance(out.get("strategies"), list):
        kept = [
            (p, v)
            for p, v in zip(positions, out["strategies"], strict=False)
            if p not in drop_index
        ]
        out["strategies"] = [v for _, v in kept]
        positions = [p for p, _ in kept]
    else:
        positions = []
    if isinstance(plugins, Mapping) and "plugins" in out:
        out["plugins"] = {k: v for k, v in plugins.items() if k not in drop_plugins}
    return out, positions
