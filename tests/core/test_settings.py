"""Settings: sources, merging, validation errors that name the key, secrets."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml

from framework.errors import SettingsError
from framework.settings import (
    DEFAULT_HOOK_TIMEOUTS,
    Settings,
    load_settings,
    masked,
)
from tests.support import ROOT


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file() -> None:
    settings = load_settings(use_files=False)
    assert settings.exchange.name == "sim"
    assert settings.exchange.symbols == ("BTCUSDT", "ETHUSDT")
    assert settings.hooks.timeouts == DEFAULT_HOOK_TIMEOUTS


def test_repository_settings_yaml_is_the_documented_defaults() -> None:
    from_file = msgspec.to_builtins(load_settings(ROOT / "settings.yaml", env="default"))
    defaults = msgspec.to_builtins(Settings(env="default"))
    from_file.pop("plugins")  # checked against the plugins' declarations below
    defaults.pop("plugins")
    # The file ships one example strategy instance (tests/strategies/test_default_run.py).
    assert defaults.pop("strategies") == ()
    assert [s["use"] for s in from_file.pop("strategies")] == ["ma_crossover"]
    assert from_file == defaults


def test_settings_yaml_plugin_blocks_equal_the_declared_defaults() -> None:
    from framework.loader import load_plugins

    from_file = load_settings(ROOT / "settings.yaml", env="default")
    with_file = load_plugins(from_file)
    without = load_plugins(load_settings(use_files=False))
    assert set(from_file.plugins) == {i.name for i in without.infos if i.source == "built-in"}
    for name, config in without.configs.items():
        assert with_file.configs[name] == config, name


def test_environment_merges_instead_of_replacing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "settings.yaml",
        """
default:
  exchange: {name: sim, symbols: [BTCUSDT]}
  plugins:
    alpha: {enabled: false, required: false}
    beta: {enabled: false, required: false}
production:
  plugins:
    alpha: {enabled: true}
""",
    )
    settings = load_settings(path, env="production")
    assert settings.env == "production"
    assert settings.plugins["alpha"] == {"enabled": True, "required": False}
    assert settings.plugins["beta"] == {"enabled": False, "required": False}
    assert settings.exchange.symbols == ("BTCUSDT",)


def test_env_vars_override_with_double_underscore_nesting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "settings.yaml", "default:\n  plugins:\n    daily_report: {enabled: true}\n"
    )
    monkeypatch.setenv("TRADELOOP_PLUGINS__DAILY_REPORT__ENABLED", "false")
    monkeypatch.setenv("TRADELOOP_HOOKS__MAX_FAILURES", "7")
    settings = load_settings(path)
    assert settings.plugins["daily_report"]["enabled"] is False
    assert settings.hooks.max_failures == 7


def test_secrets_file_overrides_and_is_masked(tmp_path: Path) -> None:
    path = write(tmp_path / "settings.yaml", "default:\n  exchange: {name: binance_futures}\n")
    write(
        tmp_path / ".secrets.yaml",
        "default:\n  exchange: {api_key: AKIA-123, api_secret: s3cr3t}\n",
    )
    settings = load_settings(path)
    assert settings.exchange.api_key == "AKIA-123"
    shown = masked(settings.as_dict())
    assert shown["exchange"]["api_key"] == "***"
    assert shown["exchange"]["api_secret"] == "***"
    assert "s3cr3t" not in repr(shown)


def test_secret_in_settings_yaml_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(tmp_path / "settings.yaml", "default:\n  exchange: {api_secret: hunter2}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert info.value.key == "exchange.api_secret"
    assert "hunter2" not in str(info.value)
    assert "TRADELOOP_EXCHANGE__API_SECRET" in str(info.value)


@pytest.mark.parametrize(
    ("override", "key", "allowed"),
    [
        ({"exchange": {"name": "a b"}}, "exchange.name", "matching regex"),
        ({"exchange": {"recv_window_ms": 0}}, "exchange.recv_window_ms", ">= 1"),
        ({"exchange": {"colour": "red"}}, "exchange.colour", "allowed keys: name, testnet"),
        ({"hooks": {"max_failures": "many"}}, "hooks.max_failures", "expected `int`"),
        ({"hooks": {"timeouts": {"on_tik": 1.0}}}, "hooks.timeouts.on_tik", "on_tick"),
        ({"hooks": {"timeouts": {"on_tick": -1}}}, "hooks.timeouts.on_tick", ">= 0.001"),
        ({"runtime": {"shutdown_timeout": "soon"}}, "runtime.shutdown_timeout", "expected"),
        ({"strategies": [{"id": "a b", "use": "x"}]}, "strategies[0].id", "matching regex"),
        ({"strategies": [{"use": "x"}]}, "strategies[0].id", "required"),
        (
            {"strategies": [{"id": "a", "use": "x"}, {"id": "a", "use": "y"}]},
            "strategies[1].id",
            "unique",
        ),
        (
            {"plugins": {"journal": {"enabled": "sometimes"}}},
            "plugins.journal.enabled",
            "true or false",
        ),
        ({"surprise": 1}, "surprise", "allowed keys: exchange, plugins"),
    ],
)
def test_bad_value_names_key_value_and_what_is_allowed(
    override: dict[str, object], key: str, allowed: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(use_files=False, overrides=override)
    assert info.value.key == key
    assert allowed in str(info.value)
    assert str(info.value).startswith(f"settings: {key} = ")
    assert "\n" not in str(info.value)


def test_a_section_outside_any_environment_is_refused_not_ignored(tmp_path: Path) -> None:
    # Read as an environment named "plugins", this block used to be ignored without a word.
    path = write(tmp_path / "settings.yaml", "plugins:\n  recorder: {enabled: true}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert info.value.key == "plugins"
    assert "top level of settings.yaml" in str(info.value)
    assert "`default:`" in str(info.value)
    write(path, "default:\n  plugins:\n    recorder: {enabled: true}\n")
    assert load_settings(path).plugins["recorder"] == {"enabled": True}


def test_a_secret_section_outside_any_environment_is_refused_without_its_value(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "settings.yaml", "default:\n  exchange: {name: sim}\n")
    write(tmp_path / ".secrets.yaml", "exchange: {api_key: AKIA-123, api_secret: s3cr3t}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert info.value.key == "exchange"
    assert "top level of .secrets.yaml" in str(info.value)
    assert "s3cr3t" not in str(info.value)
    assert "AKIA-123" not in str(info.value)


def test_missing_explicit_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="--settings"):
        load_settings(tmp_path / "nope.yaml")


def test_invalid_yaml_is_a_settings_error(tmp_path: Path) -> None:
    path = write(tmp_path / "settings.yaml", "default: [unclosed\n")
    with pytest.raises(SettingsError):
        load_settings(path)


def test_settings_yaml_lists_every_hook_timeout() -> None:
    data = yaml.safe_load((ROOT / "settings.yaml").read_text(encoding="utf-8"))
    assert data["default"]["hooks"]["timeouts"] == DEFAULT_HOOK_TIMEOUTS
