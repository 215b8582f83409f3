"""The plugin as the core sees it: built-in entry point, settings, stats, summary, disabling."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from sl_helpers import StatsReader, settings_for

from framework import SettingsError
from framework.loader import PLUGIN_GROUP, discover, is_builtin, load_plugins
from framework.runtime import Bot
from plugins.smart_logging import SmartLogging, SmartLoggingSettings


def test_it_is_a_builtin_entry_point_enabled_by_default() -> None:
    ep = discover(PLUGIN_GROUP)["smart_logging"]
    assert is_builtin(ep)
    assert ep.load() is SmartLogging
    loaded = load_plugins(settings_for({}), plugin_table={"smart_logging": ep})
    assert loaded.order == ["smart_logging"]
    assert isinstance(loaded.pm.get_plugin("smart_logging"), SmartLogging)


def test_it_starts_before_other_plugins_and_stops_after_them() -> None:
    other = EntryPoint("other", "sl_helpers:StatsReader", PLUGIN_GROUP)
    table = {"other": other, "smart_logging": discover(PLUGIN_GROUP)["smart_logging"]}
    settings = settings_for({}, plugins={"other": {"enabled": True}})
    loaded = load_plugins(settings, plugin_table=table)
    assert SmartLogging.start_priority == 0
    assert loaded.order == ["smart_logging", "other"]  # lifespans stop in reverse order


def test_settings_defaults() -> None:
    config = SmartLoggingSettings()
    assert config.rate_limit_window == 2.0
    assert (config.level, config.format, config.console) == ("INFO", "console", "stderr")
    assert config.file.path == ""
    assert config.levels == {}
    assert config.redact_patterns == ()


@pytest.mark.parametrize(
    ("block", "key"),
    [
        ({"rate_limit_windw": 1}, "plugins.smart_logging.rate_limit_windw"),
        ({"rate_limit_window": 0}, "plugins.smart_logging.rate_limit_window"),
        ({"format": "xml"}, "plugins.smart_logging.format"),
        ({"levels": {"aiohttp": "LOUD"}}, "plugins.smart_logging.levels.aiohttp"),
        ({"file": {"rotate": "1 MB"}}, "plugins.smart_logging.file.rotate"),
        ({"redact_patterns": ["(unclosed"]}, "plugins.smart_logging.redact_patterns[0]"),
    ],
)
def test_bad_settings_name_the_key(block: dict[str, Any], key: str) -> None:
    table = {"smart_logging": discover(PLUGIN_GROUP)["smart_logging"]}
    with pytest.raises(SettingsError) as info:
        load_plugins(settings_for(block), plugin_table=table)
    assert info.value.key == key


async def test_stats_reach_other_plugins_and_the_run_summary(console: Any, bot_run: Any) -> None:
    reader = StatsReader()
    run = await bot_run(extra=[("reader", reader)])
    for i in range(10):
        logger.warning("book {} stale", i)
    key = next(k for k in run.plugin.stats()["keys"] if "test_stats_reach_other_plugins" in k)
    summary = await run.stop()
    section = summary["logging"]
    assert section["suppressed"] == 9
    assert section["top_suppressed"] == {key: 9}
    assert section["emitted"] >= 3
    assert "keys" not in section
    # The summary is collected after every stop: the window flushed at stop is counted.
    final = run.plugin.stats()["keys"][key]
    assert final == {"emitted": 1, "suppressed": 9, "aggregated_lines": 1}
    assert reader.seen["keys"][key] == final


async def test_stop_restores_plain_loguru_defaults(console: Any, bot_run: Any) -> None:
    run = await bot_run({"format": "json"})
    await run.stop()
    assert run.plugin.installed is False
    for _ in range(2):
        logger.debug("after the plugin stopped")
    lines = [line for line in console.getvalue().splitlines() if "after the plugin" in line]
    assert len(lines) == 2  # no rate limit, DEBUG shown, loguru's default text format
    assert " | DEBUG    | test_sl_plugin:test_stop_restores_plain_loguru_defaults:" in lines[0]


async def test_disabled_leaves_plain_loguru(console: Any) -> None:
    logger.remove()
    logger.add(sys.stderr)  # loguru's default, on the captured stream
    root_handlers = logging.getLogger().handlers[:]
    settings = settings_for({"enabled": False, "format": "json"})
    table = {"smart_logging": discover(PLUGIN_GROUP)["smart_logging"]}
    loaded = load_plugins(settings, plugin_table=table)
    assert loaded.pm.get_plugin("smart_logging") is None
    bot = Bot(settings, loaded)
    await bot.start()
    for _ in range(3):
        logger.debug("plain loguru line")
    summary = await bot.stop()
    assert "logging" not in summary
    assert logging.getLogger().handlers == root_handlers
    lines = [line for line in console.getvalue().splitlines() if "plain loguru line" in line]
    assert len(lines) == 3
    assert all(" | DEBUG    | " in line and not line.startswith("{") for line in lines)


def run_cli(tmp_path: Path, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRADELOOP_")}
    base.update(env, TRADELOOP_PLUGINS__BINANCE__ENABLED="false")
    done = subprocess.run(
        [sys.executable, "-m", "framework.cli", "run", "--for", "0.2"],
        cwd=tmp_path,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_cli_run_logs_through_the_plugin_and_disabling_gives_plain_loguru(
    tmp_path: Path,
) -> None:
    enabled = run_cli(tmp_path, TRADELOOP_PLUGINS__SMART_LOGGING__FORMAT="json")
    started = [line for line in enabled.splitlines() if "tradeloop started" in line]
    assert json.loads(started[0])["logger"] == "framework.runtime"
    disabled = run_cli(
        tmp_path,
        TRADELOOP_PLUGINS__SMART_LOGGING__ENABLED="false",
        TRADELOOP_PLUGINS__SMART_LOGGING__FORMAT="json",
    )
    started = [line for line in disabled.splitlines() if "tradeloop started" in line]
    assert " | INFO     | framework.runtime:start:" in started[0]
