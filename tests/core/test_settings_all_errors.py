"""Every settings error of a file is reported at once, one line per key, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework import hookimpl
from framework.errors import SettingsError, SettingsErrors
from framework.loader import load_plugins, run_validate_settings
from framework.settings import Settings, load_settings
from tests.support import run_cli

# Bad keys in the core (three sections), a strategy's own params, a strategy's risk limits, two
# plugin blocks (a declared schema, a common switch), a section that moved, and a secret
# written into settings.yaml: every one is a line of its own.
BAD_FILE = """\
default:
  exchange:
    recv_window_ms: 0
    testnet: maybe
    api_key: sk-do-not-show-me
  runtime:
    shutdown_timeout: -3
  hooks:
    max_failures: 0
  sim:
    seed: 3
  plugins:
    sim:
      bogus_key: 1
      taker_fee: "NaN"
    journal:
      enabled: perhaps
  strategies:
  - id: ok
    use: ma_crossover
    params: {fast: 0, mode: sideways}
  - id: limits
    use: ma_crossover
    risk: {max_open_orders: 0}
"""

KEYS = [
    "exchange.api_key",
    "sim.seed",
    "exchange.recv_window_ms",
    "exchange.testnet",
    "runtime.shutdown_timeout",
    "hooks.max_failures",
    "strategies[1].risk.max_open_orders",
    "plugins.journal.enabled",
    "plugins.sim.bogus_key",
    "plugins.sim.taker_fee",
    "strategies[0].params.fast",
    "strategies[0].params.mode",
]


@pytest.mark.parametrize("command", ["check", "run"])
def test_the_cli_names_every_bad_key_on_its_own_line(tmp_path: Path, command: str) -> None:
    (tmp_path / "settings.yaml").write_text(BAD_FILE, encoding="utf-8")
    args = ["run", "--for", "3"] if command == "run" else ["check"]
    result = run_cli(*args, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("tradeloop: error: settings: ") for line in lines), lines
    named = [line.removeprefix("tradeloop: error: settings: ").split(" = ")[0] for line in lines]
    assert named == KEYS
    assert "sk-do-not-show-me" not in result.stderr
    assert not (tmp_path / "data").exists()  # nothing started


def test_one_bad_key_is_still_one_line(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(
        "default:\n  runtime:\n    shutdown_timeout: 0\n", encoding="utf-8"
    )
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "tradeloop: error: settings: runtime.shutdown_timeout = 0 is not allowed: "
        "expected `float` >= 0.1"
    ]


def test_load_settings_raises_every_core_error_at_once() -> None:
    overrides = {
        "exchange": {"recv_window_ms": 0, "unknown": 1},
        "strategies": [{"id": "a", "use": "x"}, {"id": "a", "use": "y"}, {"use": "z"}],
        "hooks": {"timeouts": {"on_nothing": 1.0}},
    }
    with pytest.raises(SettingsErrors) as caught:
        load_settings(use_files=False, overrides=overrides)
    keys = [e.key for e in caught.value.errors]
    assert keys == [
        "exchange.recv_window_ms",
        "exchange.unknown",
        "strategies[2].id",
        "strategies[1].id",
        "hooks.timeouts.on_nothing",
    ]
    assert isinstance(caught.value, SettingsError)  # existing ``except SettingsError`` holds
    assert caught.value.key == "exchange.recv_window_ms"
    assert len(str(caught.value).splitlines()) == len(keys)


class _Checks:
    """A plugin whose cross-section check refuses one key."""

    def __init__(self, key: str) -> None:
        self.key = key

    @hookimpl
    def validate_settings(self, settings: Settings) -> None:
        raise SettingsError(self.key, settings.env, "refused by this plugin's check")


def test_every_plugins_cross_section_check_is_reported_at_once() -> None:
    settings = load_settings(use_files=False)
    loaded = load_plugins(
        settings,
        extra=[("one", _Checks("plugins.one.x")), ("two", _Checks("plugins.two.y"))],
        plugin_table={},
        strategy_table={},
    )
    with pytest.raises(SettingsErrors) as caught:
        run_validate_settings(loaded, settings)
    assert sorted(e.key for e in caught.value.errors) == ["plugins.one.x", "plugins.two.y"]
