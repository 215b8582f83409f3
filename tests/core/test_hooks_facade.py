"""One way to call a plugin: the typed facade covers every hookspec, the bus keeps its state."""

from __future__ import annotations

import inspect
import re
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from framework import hookimpl, hookspecs
from framework.bus import HookBus
from framework.commands import Command
from framework.errors import PluginLoadError
from framework.hooks import Hooks
from framework.loader import PLUGIN_GROUP, load_plugins, new_plugin_manager
from framework.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def hookspec_functions() -> dict[str, inspect.Signature]:
    marker = f"{hookspecs.PROJECT}_spec"
    return {
        name: inspect.signature(function)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, marker)
    }


def test_the_facade_has_one_method_per_hookspec_and_nothing_else() -> None:
    public = {
        name
        for name, _ in inspect.getmembers(Hooks, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(hookspec_functions())


@pytest.mark.parametrize("hook", sorted(hookspec_functions()))
def test_each_facade_method_takes_its_hookspecs_arguments_in_order(hook: str) -> None:
    spec = [p for p in hookspec_functions()[hook].parameters if p != "ctx"]
    method = inspect.signature(getattr(Hooks, hook)).parameters.values()
    positional = [p.name for p in method if p.kind is p.POSITIONAL_OR_KEYWORD][1:]  # no self
    assert positional == spec
    # anything else the facade needs (which plugins, which factory) is keyword-only
    others = [p for p in method if p.kind is not p.POSITIONAL_OR_KEYWORD]
    assert all(p.kind is p.KEYWORD_ONLY for p in others)


def test_the_bus_has_no_public_state() -> None:
    bus = HookBus(new_plugin_manager())
    assert [name for name in vars(bus) if not name.startswith("_")] == []


def test_no_module_outside_the_bus_reaches_into_it() -> None:
    reach = re.compile(
        r"\bbus\._[a-z]"  # a private field
        r"|\bbus\.\w+(\[[^\]]*\])?\s*(=[^=]|\+=|-=)"  # assigned, or an item of it
        r"|\bbus\.\w+\.(append|update|add|clear|pop|setdefault|extend|discard|remove)\("
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("framework", "plugins", "strategies", "benchmarks", "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "framework" / "bus.py" and path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if reach.search(line)
    ]
    assert offenders == []


class BrokenCommands:
    @hookimpl
    def register_commands(self) -> list[Command]:
        raise RuntimeError("no commands today")


class BrokenSchema:
    @staticmethod
    @hookimpl
    def declare_settings() -> type:
        raise RuntimeError("no schema today")


def test_a_failing_setup_hook_is_the_plugins_load_error() -> None:
    from framework.cli import plugin_commands

    settings = load_settings(use_files=False)
    loaded = load_plugins(settings, extra=[("broken", BrokenCommands())], plugin_table={})
    with pytest.raises(PluginLoadError, match=r"plugin 'broken'.*RuntimeError: no commands today"):
        plugin_commands(loaded)


def test_declare_settings_goes_through_the_bus_and_its_failure_names_the_plugin() -> None:
    settings = load_settings(use_files=False, overrides={"plugins": {"schema": {"enabled": True}}})
    ep = EntryPoint("schema", "test_hooks_facade:BrokenSchema", PLUGIN_GROUP)
    with pytest.raises(PluginLoadError, match=r"plugin 'schema'.*RuntimeError: no schema today"):
        load_plugins(settings, plugin_table={"schema": ep})
