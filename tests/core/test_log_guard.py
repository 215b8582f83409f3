"""The core keeps secrets and variable values out of log output, with or without smart_logging."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from loguru import logger

from framework.log_guard import guard_logging
from tests.support import run_cli

SECRET = "hunter2-0123456789abcdefSECRET"
LISTEN_KEY = "pqrsXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
LOCAL = "local-value-only-diagnose-shows"

LEAKY = f'''
from framework import Strategy, hookimpl


class Leaky(Strategy):
    symbols = ("BTCUSDT",)

    @hookimpl
    def on_tick(self, tick, ctx):
        secret = ctx.settings.exchange.api_secret
        url = "wss://fstream.binance.com/ws/{LISTEN_KEY}"
        marker = "{LOCAL}"
        raise RuntimeError(f"user stream {{url}} refused key {{secret}} ({{len(marker)}})")
'''


@pytest.mark.parametrize("smart_logging", ["false", "true"])
def test_a_traceback_shows_no_secret_no_listen_key_and_no_variable_values(
    tmp_path: Path, smart_logging: str
) -> None:
    (tmp_path / "leaky.py").write_text(LEAKY, encoding="utf-8")
    (tmp_path / "settings.yaml").write_text(
        "default:\n  strategies:\n  - {id: leaky, use: 'leaky:Leaky'}\n", encoding="utf-8"
    )
    env = {
        "TRADELOOP_EXCHANGE__API_SECRET": SECRET,
        "TRADELOOP_PLUGINS__SMART_LOGGING__ENABLED": smart_logging,
        "TRADELOOP_PLUGINS__STATUS__MODE": "off",
        "TRADELOOP_PLUGINS__JOURNAL__ENABLED": "false",
        "TRADELOOP_PLUGINS__DAILY_REPORT__ENABLED": "false",
        "TRADELOOP_PLUGINS__RECONCILIATION__HOLD_STRATEGIES": "false",
    }
    result = run_cli("run", "--for", "8", cwd=tmp_path, env=env, site=tmp_path, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    # The exception was logged, with its traceback, by the core (strategy paused) ...
    assert "RuntimeError: user stream wss://fstream.binance.com/ws/*** refused key ***" in output
    assert 'File "' in output
    assert "leaky.py" in output
    # ... and neither the secret, the listenKey nor a variable's value reached the output.
    assert SECRET not in output
    assert LISTEN_KEY not in output
    assert LOCAL not in output


def test_a_sink_a_plugin_adds_with_diagnose_gets_no_variable_values() -> None:
    guard_logging([SECRET])
    stream = io.StringIO()
    handler = logger.add(stream, diagnose=True, backtrace=True, format="{message}|{extra}")
    try:
        secret = SECRET
        marker = LOCAL
        try:
            raise ValueError(f"{len(secret) + len(marker)} /ws/{LISTEN_KEY}")
        except ValueError:
            logger.exception("failed with {}", secret)
    finally:
        logger.remove(handler)
    text = stream.getvalue()
    assert "failed with ***" in text
    assert "/ws/***" in text  # the redacted traceback, in extra["_exc"]
    assert SECRET not in text
    assert LOCAL not in text
    assert LISTEN_KEY not in text


def test_an_error_line_of_the_cli_is_redacted(tmp_path: Path) -> None:
    (tmp_path / "broken_at_import.py").write_text(
        "import os\n"
        "key = os.environ['TRADELOOP_EXCHANGE__API_SECRET']\n"
        f"url = 'wss://fstream.binance.com/ws/{LISTEN_KEY}'\n"
        "raise RuntimeError(f'cannot reach {url} with {key}')\n",
        encoding="utf-8",
    )
    (tmp_path / "settings.yaml").write_text(
        "default:\n  strategies:\n  - {id: broken, use: 'broken_at_import:X'}\n", encoding="utf-8"
    )
    env = {"TRADELOOP_EXCHANGE__API_SECRET": SECRET}
    result = run_cli("check", cwd=tmp_path, env=env, site=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("RuntimeError: cannot reach wss://fstream.binance.com/ws/*** with ***")
