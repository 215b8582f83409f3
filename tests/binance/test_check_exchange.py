"""``tradeloop check --exchange`` against the simulator: read-only, a report, no order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from framework import ManualClock
from plugins.sim import SimExchange
from tests.reporting_support import bot_settings, start_sim
from tests.support import run_cli

QUIET = {"smart_logging": {"enabled": False}, "status": {"enabled": False}}


@pytest.fixture
async def sim() -> AsyncIterator[SimExchange]:
    exchange = await start_sim(ManualClock(1_714_521_600.0))
    try:
        yield exchange
    finally:
        await exchange.stop()


def _folder(sim: SimExchange, tmp_path: Path, symbols: list[str]) -> dict[str, str]:
    """A bot folder reaching ``sim`` as an outside exchange; its keys as environment."""
    settings: dict[str, Any] = bot_settings(
        sim, tmp_path / "data", plugins={"sim": {"enabled": False}, **QUIET}
    )
    settings["exchange"]["symbols"] = symbols
    exchange = settings["exchange"]
    env = {
        "TRADELOOP_EXCHANGE__API_KEY": exchange.pop("api_key"),
        "TRADELOOP_EXCHANGE__API_SECRET": exchange.pop("api_secret"),
    }
    text = yaml.safe_dump({"default": msgspec.to_builtins(settings)})
    (tmp_path / "settings.yaml").write_text(text, encoding="utf-8")
    return env


async def test_check_reports_time_account_and_symbols_and_places_nothing(
    sim: SimExchange, tmp_path: Path
) -> None:
    env = _folder(sim, tmp_path, ["BTCUSDT", "ETHUSDT"])
    result = await asyncio.to_thread(run_cli, "check", "--exchange", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    report = result.stdout[result.stdout.index("exchange check (SIMULATED):") :].splitlines()
    key = env["TRADELOOP_EXCHANGE__API_KEY"]
    assert report[1] == f"  exchange: {sim.rest_url} (api key {key[:4]}...({len(key)} chars))"
    assert report[2].startswith("  server time: ok, local clock skew ")
    assert report[3] == "  account: ok, trading allowed"
    assert report[4] == "  balances: USDT 10000 (available 10000)"
    assert report[5:] == [
        "  BTCUSDT: listed, position 0, open orders 0",
        "  ETHUSDT: listed, position 0, open orders 0",
        "  no order was placed",
    ]
    assert sim.engine.orders == {}
    assert sim.listen_keys.active is None  # no user-data stream was opened
    assert env["TRADELOOP_EXCHANGE__API_SECRET"] not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()  # no journal, nothing recorded


async def test_an_unlisted_symbol_or_a_bad_key_fails_the_check(
    sim: SimExchange, tmp_path: Path
) -> None:
    env = _folder(sim, tmp_path, ["BTCUSDT", "XRPUSDT"])
    result = await asyncio.to_thread(run_cli, "check", "--exchange", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert "  XRPUSDT: NOT LISTED as TRADING on this exchange" in result.stdout
    assert result.stdout.rstrip().endswith("no order was placed; FAILED: see above")

    env["TRADELOOP_EXCHANGE__API_SECRET"] = "not-the-secret-" + "x" * 40
    result = await asyncio.to_thread(run_cli, "check", "--exchange", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert "  account: FAILED: " in result.stdout
    assert "not-the-secret-" not in result.stdout + result.stderr


def test_check_without_exchange_asks_nothing(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "exchange check" not in result.stdout
