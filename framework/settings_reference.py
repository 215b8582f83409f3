"""The settings reference, generated from the validators: ``docs/settings-reference.md``.

``python -m framework.settings_reference --write`` (without ``--write``: to stdout) lists every
key of the core ``Settings`` and of the settings struct each built-in plugin declares (entry
points of the ``tradeloop`` distribution in both plugin groups), with its type, default and
attribute docstring. A documentation tool: it imports the built-in plugins the way the loader
does; nothing at runtime imports it.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import yaml

from framework.generated_page import page_main
from framework.hookspecs import PROJECT
from framework.loader import discover_plugins, enabled_by_default, is_builtin
from framework.setting_types import DECIMAL_BOUNDS
from framework.settings import PLUGIN_COMMON_KEYS, Settings

COMMAND = "python -m framework.settings_reference --write"
PAGE = Path(__file__).resolve().parent.parent / "docs" / "settings-reference.md"
# Meanings of core keys whose structs carry no attribute docstrings (a stale key fails a test).
NOTES: dict[str, str] = {
    "exchange.name": "The exchange to trade on; the connector plugin checks the name "
    "(`binance`: `sim`, the simulated exchange; `paper`, the simulated exchange on a venue's "
    "live public prices; or `binance_futures`).",
    "exchange.testnet": "`binance_futures` only: the testnet instead of production.",
    "exchange.symbols": "Market streams always subscribed; strategies add their own.",
    "exchange.rest_url": "Override the REST base URL (e.g. a standalone `tradeloop sim`).",
    "exchange.stream_url": "Override the WebSocket base URL.",
    "exchange.api_key": "From `.secrets.yaml` or `TRADELOOP_EXCHANGE__API_KEY` only.",
    "exchange.api_secret": "From `.secrets.yaml` or `TRADELOOP_EXCHANGE__API_SECRET` only.",
    "exchange.recv_window_ms": "`recvWindow` of signed requests, milliseconds.",
    "strategies[].id": "Names this instance (unique); it runs as plugin `strategy:<id>`.",
    "strategies[].use": (
        "An entry point of group `tradeloop.strategies`, or `module:Class` (imported from the "
        "settings file's folder or its `strategies/` first)."
    ),
    "strategies[].params": "The strategy's own settings, validated against what it declares.",
    "strategies[].risk.max_position": "Largest absolute position per symbol, base units; "
    "`null`: no limit.",
    "strategies[].risk.max_order_notional": "Quantity times price of one order, quote asset; "
    "`null`: no limit.",
    "strategies[].risk.max_open_orders": "Open orders of this instance per symbol; "
    "`null`: no limit.",
    "strategies[].enabled": "Run this instance.",
    "strategies[].required": "`false`: if it fails to load, log it and start without it.",
    "hooks.timeouts": "Time budget per hook in seconds, by hook name.",
    "hooks.max_failures": "Failures in a row that disable a plugin.",
    "hooks.queue_size": "Per-plugin queue of async notifications; the oldest is dropped when full.",
    "runtime.use_uvloop": "`false`: the plain asyncio event loop.",
    "runtime.shutdown_timeout": "Seconds for a graceful stop.",
    "runtime.max_tick_age": "Seconds: a tick whose exchange event time is older than this "
    "by the bot's clock is dropped, never handed to `on_tick` (counted in the summary).",
    "runtime.loop_check_interval": "Seconds between the loop watchdog's wakeups.",
    "runtime.loop_stall_warning": "Seconds: the watchdog logs a warning (with the stall's "
    "length) when the loop wakes it this much late, and counts the stall in the summary.",
    "runtime.data_dir": "Where plugins keep their files.",
    "env": "The selected environment (`--env`, `TRADELOOP_ENV`); set by the loader, not by you.",
}
COMMON_KEY_NOTES: dict[str, str] = {
    "enabled": "Load this plugin.",
    "required": "`false`: if the plugin fails to load, log it and start without it.",
}


@dataclass(frozen=True)
class Row:
    """One key of the reference."""

    key: str
    type: str
    default: str
    doc: str


@dataclass(frozen=True)
class Section:
    """A heading, its introduction and its keys."""

    title: str
    intro: str
    rows: tuple[Row, ...]


def _rst_to_md(text: str) -> str:
    return " ".join(text.replace("``", "`").split())


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return _rst_to_md(doc.split("\n\n", 1)[0])


def attribute_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a struct's fields (``x: int = 1`` then ``\"\"\"...\"\"\"``)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    tree = ast.parse(source)
    node = tree.body[0]
    docs: dict[str, str] = {}
    if not isinstance(node, ast.ClassDef):
        return docs
    body = node.body
    for stmt, following in itertools.pairwise(body):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[stmt.target.id] = _rst_to_md(following.value.value)
    return docs


def _bounds(t: Any) -> str:
    parts = []
    for name, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        value = getattr(t, name, None)
        if value is not None:
            parts.append(f"{sign} {value}")
    return ", ".join(parts)


def type_name(t: Any) -> str:
    """A short, readable description of a msgspec type, with its constraints."""
    if isinstance(t, mi.Metadata):
        bounds = str((t.extra or {}).get(DECIMAL_BOUNDS, ""))
        return f"{type_name(t.type)} {bounds}" if bounds else type_name(t.type)
    if isinstance(t, mi.LiteralType):
        return "one of " + ", ".join(f"`{v}`" for v in t.values)
    if isinstance(t, mi.UnionType):
        names = [type_name(x) for x in t.types if not isinstance(x, mi.NoneType)]
        nullable = any(isinstance(x, mi.NoneType) for x in t.types)
        return " or ".join(names + (["null"] if nullable else []))
    if isinstance(t, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        return f"list of {type_name(t.item_type)}"
    if isinstance(t, mi.DictType):
        return f"mapping of {type_name(t.key_type)} to {type_name(t.value_type)}"
    if isinstance(t, mi.StrType):
        extra = [f"matching `{t.pattern}`"] if t.pattern else []
        if t.min_length:
            extra.append(f"at least {t.min_length} long")
        return " ".join(["str", *extra])
    if isinstance(t, mi.StructType):
        return t.cls.__name__
    simple = {
        mi.IntType: "int",
        mi.FloatType: "float",
        mi.BoolType: "bool",
        mi.DecimalType: "decimal",
        mi.AnyType: "any",
        mi.NoneType: "null",
    }
    for kind, name in simple.items():
        if isinstance(t, kind):
            bounds = _bounds(t)
            return f"{name} {bounds}" if bounds else name
    return type(t).__name__.removesuffix("Type").lower()


def default_text(field: mi.Field) -> str:
    """The field's default as it would be written in settings.yaml, or ``required``."""
    if field.required:
        return "required"
    value = field.default if field.default is not msgspec.NODEFAULT else field.default_factory()
    dumped = yaml.safe_dump(
        msgspec.to_builtins(value), default_flow_style=True, sort_keys=False, width=10**6
    )
    return dumped.strip().removesuffix("...").strip()


def _struct(t: Any) -> mi.StructType | None:
    if isinstance(t, mi.Metadata):
        return _struct(t.type)
    return t if isinstance(t, mi.StructType) else None


def _fields(cls: type) -> tuple[mi.Field, ...]:
    info = mi.type_info(cls)
    if not isinstance(info, mi.StructType):
        raise TypeError(f"{cls!r} is not a msgspec.Struct")
    return info.fields


def _list_item_struct(t: Any) -> mi.StructType | None:
    if isinstance(t, (mi.ListType, mi.VarTupleType)):
        return _struct(t.item_type)
    return None


def field_rows(field: mi.Field, key: str, doc: str) -> Iterator[Row]:
    """The row of one field; a nested struct, or a list of structs, is expanded instead."""
    nested = _struct(field.type)
    if nested is not None:
        yield from struct_rows(nested.cls, key)
        return
    item = _list_item_struct(field.type)
    if item is not None:
        yield from struct_rows(item.cls, key + "[]")
        return
    yield Row(key, type_name(field.type), default_text(field), doc or NOTES.get(key, ""))


def struct_rows(cls: type, prefix: str) -> Iterator[Row]:
    """One row per leaf key of ``cls``, dotted under ``prefix``."""
    docs = attribute_docs(cls)
    for field in _fields(cls):
        key = f"{prefix}.{field.name}" if prefix else field.name
        yield from field_rows(field, key, docs.get(field.name, ""))


def _declared_schema(factory: Any) -> type | None:
    declare = getattr(factory, "declare_settings", None)
    if declare is None or getattr(declare, f"{PROJECT}_impl", None) is None:
        return None
    schema = declare()
    return schema if isinstance(schema, type) else None


def builtin_plugins() -> dict[str, EntryPoint]:
    """Every built-in plugin entry point (both groups), by name."""
    return {name: ep for name, ep in sorted(discover_plugins().items()) if is_builtin(ep)}


def core_sections() -> list[Section]:
    """The core ``Settings``: a section per struct-valued key, scalars together at the end."""
    sections: list[Section] = []
    loose: list[Row] = []
    docs = attribute_docs(Settings)
    for field in _fields(Settings):
        if field.name == "plugins":
            continue
        rows = tuple(field_rows(field, field.name, docs.get(field.name, "")))
        nested = _struct(field.type)
        item = _list_item_struct(field.type)
        if nested is not None:
            sections.append(Section(f"`{field.name}`", _summary(nested.cls), rows))
        elif item is not None:
            sections.append(Section(f"`{field.name}[]`", _summary(item.cls), rows))
        else:
            loose.extend(rows)
    if loose:
        sections.append(Section("Other keys", "", tuple(loose)))
    return sections


def plugin_sections() -> list[Section]:
    """``plugins.<name>``: the common keys and the declared struct of every built-in plugin."""
    sections = []
    for name, ep in builtin_plugins().items():
        schema = _declared_schema(ep.load())
        prefix = f"plugins.{name}"
        try:
            own = list(struct_rows(schema, prefix)) if schema is not None else []
        except (TypeError, ValueError) as exc:
            raise TypeError(f"plugin {name!r}: cannot read its settings struct: {exc}") from exc
        on = enabled_by_default(ep)
        common = [
            Row(
                f"{prefix}.enabled", "bool", "true" if on else "false", COMMON_KEY_NOTES["enabled"]
            ),
            Row(f"{prefix}.required", "bool", "true", COMMON_KEY_NOTES["required"]),
        ]
        assert [r.key.rsplit(".", 1)[1] for r in common] == list(PLUGIN_COMMON_KEYS)
        rows = [*common, *own]
        state = "on by default" if on else "opt-in: off until `enabled: true`"
        intro = _summary(schema) if schema is not None else "No keys of its own."
        sections.append(Section(f"`{prefix}` ({state})", intro, tuple(rows)))
    return sections


def all_sections() -> list[Section]:
    """Core sections, then plugin blocks."""
    free_form = {
        f.name for f in _fields(Settings) if isinstance(f.type, mi.DictType) and f.name != "plugins"
    }
    if free_form:
        raise LookupError(f"core sections without a schema: {free_form}")
    return [*core_sections(), *plugin_sections()]


def reference_keys() -> list[str]:
    """Every key the reference documents, in order."""
    return [row.key for section in all_sections() for row in section.rows]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The whole of ``docs/settings-reference.md``."""
    out = [
        "# Settings reference",
        "",
        "<!-- Generated by `python -m framework.settings_reference`; do not edit. -->",
        "",
        "Every settings key with its type and default, generated from the validators: the core",
        "`Settings` and the settings struct each built-in plugin declares.",
        "Where values come from (files, environments, `TRADELOOP_...` variables) and how errors",
        "read: [settings.md](settings.md). A third-party plugin documents its own block in its",
        "README; `tradeloop check` prints every enabled plugin's block with its defaults.",
        "",
        "`a[]` is a list of entries; `required` means the key has no default. After changing a",
        "settings struct or adding a built-in plugin, regenerate this page (a test fails until",
        "then):",
        "",
        "```bash",
        COMMAND,
        "```",
    ]
    groups = [
        ("Core", core_sections()),
        ("Built-in plugin blocks", plugin_sections()),
    ]
    for group, sections in groups:
        out += ["", f"## {group}"]
        for section in sections:
            out += ["", f"### {section.title}", ""]
            if section.intro:
                out += [section.intro, ""]
            out += ["| key | type | default | meaning |", "|---|---|---|---|"]
            for row in section.rows:
                cells = (f"`{row.key}`", row.type, f"`{row.default}`", row.doc)
                out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(out) + "\n"


DOC_KEY = re.compile(r"^\| `([^`]+)` \|", re.M)


def documented_keys(markdown: str) -> list[str]:
    """The keys listed in a rendered reference (first column of its tables)."""
    return DOC_KEY.findall(markdown)


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or with ``--write`` replace ``docs/settings-reference.md``."""
    return page_main(render, PAGE, COMMAND, argv)


if __name__ == "__main__":
    raise SystemExit(main())
