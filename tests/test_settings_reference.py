"""docs/settings-reference.md lists exactly the keys the validators accept, with their defaults."""

from __future__ import annotations

import typing
from importlib.metadata import distribution
from typing import Any

import msgspec

from framework import settings_reference as ref
from framework.loader import OPT_IN_GROUP, PLUGIN_GROUP
from framework.settings import PLUGIN_COMMON_KEYS, Settings, StrategySettings
from tests.support import ROOT

PAGE = ROOT / "docs" / "settings-reference.md"
REGENERATE = f"docs/settings-reference.md is out of date: run `{ref.COMMAND}`"


def struct_keys(cls: type[msgspec.Struct], prefix: str) -> set[str]:
    """Leaf keys of a struct type, walked with ``msgspec.structs.fields`` and ``typing``."""
    hints = typing.get_type_hints(cls, include_extras=True)
    keys: set[str] = set()
    for field in msgspec.structs.fields(cls):
        key = f"{prefix}.{field.name}" if prefix else field.name
        hint = _strip(hints[field.name])
        origin = typing.get_origin(hint)
        args = [_strip(a) for a in typing.get_args(hint)]
        if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
            keys |= struct_keys(hint, key)
        elif origin in (list, tuple) and args and _is_struct(args[0]):
            keys |= struct_keys(args[0], key + "[]")
        else:
            keys.add(key)
    return keys


def _strip(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _is_struct(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, msgspec.Struct)


def builtin_entry_points() -> dict[str, Any]:
    """Every plugin entry point the tradeloop distribution declares, in either group."""
    eps = distribution("tradeloop").entry_points
    return {ep.name: ep for ep in eps if ep.group in (PLUGIN_GROUP, OPT_IN_GROUP)}


def expected_keys() -> set[str]:
    core = struct_keys(Settings, "")
    core -= {"plugins", "strategies"}
    core |= struct_keys(StrategySettings, "strategies[]")
    for name, ep in builtin_entry_points().items():
        core |= {f"plugins.{name}.{key}" for key in PLUGIN_COMMON_KEYS}
        declare = getattr(ep.load(), "declare_settings", None)
        schema = declare() if declare is not None else None
        if schema is not None:
            core |= struct_keys(schema, f"plugins.{name}")
    return core


def test_reference_page_is_up_to_date() -> None:
    assert PAGE.read_text(encoding="utf-8") == ref.render(), REGENERATE


def test_reference_page_lists_every_key_of_the_validators_and_no_other() -> None:
    documented = ref.documented_keys(PAGE.read_text(encoding="utf-8"))
    assert len(documented) == len(set(documented)), "a key is listed twice"
    expected = expected_keys()
    missing = sorted(expected - set(documented))
    stale = sorted(set(documented) - expected)
    assert not missing, f"{REGENERATE} (missing: {missing})"
    assert not stale, f"{REGENERATE} (stale: {stale})"


def test_every_builtin_plugin_of_both_groups_is_covered() -> None:
    assert set(ref.builtin_plugins()) == set(builtin_entry_points())
    titles = [s.title for s in ref.plugin_sections()]
    for name in builtin_entry_points():
        assert any(t.startswith(f"`plugins.{name}`") for t in titles), name


def test_defaults_are_the_validators_defaults() -> None:
    rows = {row.key: row for section in ref.all_sections() for row in section.rows}
    assert rows["exchange.recv_window_ms"].default == "5000"
    assert rows["exchange.recv_window_ms"].type == "int >= 1, <= 60000"
    assert rows["exchange.symbols"].default == "[BTCUSDT, ETHUSDT]"
    assert rows["strategies[].id"].default == "required"
    assert rows["plugins.sim.faults.drop_user_events"].type == "float >= 0, <= 1"
    assert rows["plugins.binance.routed_streams"].default == "null"
    assert rows["plugins.smart_logging.file.path"].default == "''"


def test_every_core_note_names_a_real_key() -> None:
    keys = set(ref.reference_keys())
    assert set(ref.NOTES) <= keys, sorted(set(ref.NOTES) - keys)


def test_attribute_docstrings_become_meanings() -> None:
    class Example(msgspec.Struct):
        """An example."""

        every: float = 1.0
        """How often, in ``seconds``."""
        quiet: bool = False

    assert ref.attribute_docs(Example) == {"every": "How often, in `seconds`."}
