"""Plugin loading through real installed distributions (examples/ and tests/packages/)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from framework.errors import PluginLoadError, PluginStartError, SettingsError
from framework.loader import load_plugins
from framework.runtime import Bot
from framework.settings import load_settings

pytestmark = pytest.mark.usefixtures("with_plugin_site")


def load(overrides: dict[str, object]):
    return load_plugins(load_settings(use_files=False, overrides=overrides))


def only(**blocks: dict[str, object]) -> dict[str, object]:
    """Settings that disable every installed plugin except the blocks given."""
    from framework.loader import PLUGIN_GROUP, discover

    plugins: dict[str, object] = {n: {"enabled": False} for n in discover(PLUGIN_GROUP)}
    plugins.update(blocks)
    return {"plugins": plugins}


def test_third_party_plugins_are_discovered_but_opt_in() -> None:
    loaded = load({})
    hello = loaded.info("hello")
    assert hello is not None
    assert hello.source == "tradeloop-hello 0.1.0"
    assert not hello.enabled
    assert not hello.loaded
    assert "tradeloop_hello" not in sys.modules  # a disabled plugin is never imported
    assert loaded.pm.is_blocked("hello")


def test_enabled_third_party_plugin_is_loaded_with_validated_settings() -> None:
    loaded = load(only(hello={"enabled": True, "greeting": "gm", "every": 5}))
    hello = loaded.info("hello")
    assert hello is not None
    assert hello.loaded
    assert hello.hooks == [
        "declare_settings",
        "lifespan",
        "on_plugin_error",
        "on_tick",
        "register_jobs",
        "summarize_run",
    ]
    plugin = loaded.pm.get_plugin("hello")
    assert plugin.config.greeting == "gm"
    assert plugin.config.every == 5.0


def test_plugin_setting_with_bad_value_names_the_key() -> None:
    with pytest.raises(SettingsError) as info:
        load(only(hello={"enabled": True, "every": "often"}))
    assert info.value.key == "plugins.hello.every"


def test_unknown_key_in_plugin_block_names_the_key_and_the_allowed_ones() -> None:
    with pytest.raises(SettingsError) as info:
        load(only(hello={"enabled": True, "colour": "blue"}))
    assert info.value.key == "plugins.hello.colour"
    assert "greeting, every" in str(info.value)


def test_unknown_plugin_name_is_a_settings_error() -> None:
    with pytest.raises(SettingsError) as info:
        load({"plugins": {"helo": {"enabled": True}}})
    assert info.value.key == "plugins.helo"
    assert "hello" in info.value.allowed


def test_unknown_plugin_with_required_false_is_skipped() -> None:
    loaded = load({"plugins": {"helo": {"enabled": True, "required": False}}})
    info = loaded.info("helo")
    assert info is not None
    assert not info.loaded
    assert "not installed" in info.error


def test_broken_plugin_stops_startup_naming_plugin_distribution_and_cause() -> None:
    with pytest.raises(PluginLoadError) as info:
        load(only(broken_import={"enabled": True}))
    message = str(info.value)
    assert "'broken_import'" in message
    assert "tradeloop-testplugins 0.0.1" in message
    assert "ModuleNotFoundError" in message
    assert "not_an_installed_module" in message


def test_broken_plugin_with_required_false_is_logged_and_skipped() -> None:
    loaded = load(only(broken_import={"enabled": True, "required": False}, hello={"enabled": True}))
    assert not loaded.info("broken_import").loaded  # type: ignore[union-attr]
    assert loaded.info("hello").loaded  # type: ignore[union-attr]
    assert not loaded.pm.has_plugin("broken_import")


def test_misspelled_hook_is_a_startup_error() -> None:
    with pytest.raises(PluginLoadError, match="unknown hook 'on_tik'"):
        load(only(misspelled={"enabled": True}))


def test_hook_argument_not_in_spec_is_a_startup_error() -> None:
    with pytest.raises(PluginLoadError, match="venue"):
        load(only(bad_argument={"enabled": True}))


def test_module_with_hook_functions_is_a_plugin() -> None:
    loaded = load(only(module_hooks={"enabled": True}))
    assert loaded.info("module_hooks").hooks == ["on_tick", "summarize_run"]  # type: ignore[union-attr]


def test_two_instances_of_one_strategy_coexist() -> None:
    loaded = load(
        {
            "strategies": [
                {"id": "btc", "use": "counter", "params": {"symbol": "BTCUSDT"}},
                {"id": "eth", "use": "counter", "params": {"symbol": "ETHUSDT", "step": 2}},
            ]
        }
    )
    btc = loaded.pm.get_plugin("strategy:btc")
    eth = loaded.pm.get_plugin("strategy:eth")
    assert btc is not eth
    assert (btc.strategy_id, btc.params.symbol) == ("btc", "BTCUSDT")
    assert (eth.strategy_id, eth.params.step) == ("eth", 2)
    assert loaded.info("strategy:eth").source.startswith("strategy 'counter'")  # type: ignore[union-attr]


def test_strategy_params_are_validated() -> None:
    with pytest.raises(SettingsError) as info:
        load({"strategies": [{"id": "x", "use": "counter", "params": {"step": "two"}}]})
    assert info.value.key == "strategies[0].params.step"


def test_unknown_strategy_is_a_load_error_naming_the_known_ones() -> None:
    with pytest.raises(PluginLoadError, match="counter"):
        load({"strategies": [{"id": "x", "use": "nope"}]})


def test_strategy_by_module_path() -> None:
    loaded = load(
        {"strategies": [{"id": "p", "use": "tradeloop_testplugins.counter:CounterStrategy"}]}
    )
    assert loaded.info("strategy:p").loaded  # type: ignore[union-attr]


async def test_plugin_failing_to_start_aborts_startup_and_stops_the_others(tmp_path: Path) -> None:
    settings = load_settings(
        use_files=False, overrides=only(hello={"enabled": True}, failing_start={"enabled": True})
    )
    bot = Bot(settings, load_plugins(settings))
    with pytest.raises(PluginStartError, match=r"failing_start.*cannot reach the database"):
        await bot.start()
    assert bot.loaded.pm.get_plugin("hello") is not None
    assert not bot.running


def test_start_priority_orders_lifespans() -> None:
    settings = load_settings(
        use_files=False,
        overrides=only(
            sim={"enabled": True}, smart_logging={"enabled": True}, hello={"enabled": True}
        ),
    )
    loaded = load_plugins(settings)
    assert loaded.order == ["smart_logging", "sim", "hello"]  # smart_logging: start_priority 0
