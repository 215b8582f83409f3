"""Which symbols strategies trade is the core's rule (``ctx.subscribed_symbols()``)."""

from __future__ import annotations

from typing import Any

from framework.strategy import declared_symbols
from framework.testing import BotFactory

NO_EXCHANGE = {"plugins": {"binance": {"enabled": False}, "smart_logging": {"enabled": False}}}


def test_declared_symbols_reads_params_then_the_attribute() -> None:
    class Plugin:
        symbols = frozenset({"XRPUSDT", "ADAUSDT"})

    params: dict[str, Any] = {"symbols": ["ethusdt", "", 3], "symbol": "BTCUSDT"}
    assert declared_symbols(params, Plugin()) == ["ETHUSDT", "BTCUSDT", "ADAUSDT", "XRPUSDT"]
    assert declared_symbols({"symbol": 7}, object()) == []


async def test_subscribed_symbols_are_the_exchange_ones_plus_every_enabled_strategys(
    bot_factory: BotFactory,
) -> None:
    settings = {
        **NO_EXCHANGE,
        "exchange": {"symbols": ["ETHUSDT"]},
        "strategies": [
            {"id": "a", "use": "tests.strategy.doubles:Recorder", "params": {"symbol": "bnbusdt"}},
            {"id": "b", "use": "tests.strategy.doubles:Pairs"},
            {
                "id": "off",
                "use": "tests.strategy.doubles:Recorder",
                "params": {"symbol": "DOGEUSDT"},
                "enabled": False,
            },
        ],
    }
    bot = await bot_factory(settings, start=False)
    assert bot.ctx.subscribed_symbols() == ("ETHUSDT", "BNBUSDT", "SOLUSDT", "BTCUSDT")
