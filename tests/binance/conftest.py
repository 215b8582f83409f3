"""Fixtures: a seeded simulator on loopback and a connector pointed at it, both closed after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from plugins.binance import BinanceConfig
from plugins.sim import SimExchange

from .helpers import FAST_CONFIG, Harness, make_connector, sim_settings

HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness() -> AsyncIterator[HarnessFactory]:
    """Start a simulator (settings overrides) and a started connector; all closed at teardown."""
    made: list[Harness] = []

    async def factory(
        *,
        config: BinanceConfig = FAST_CONFIG,
        start: bool = True,
        user_data: bool = True,
        market_data: bool = True,
        routed: bool = True,
        **sim_overrides: Any,
    ) -> Harness:
        sim = SimExchange(sim_settings(**sim_overrides))
        await sim.start("127.0.0.1", 0)
        connector, sink, ticks, statuses = make_connector(sim, config=config, routed=routed)
        harness = Harness(sim, connector, sink, ticks, statuses)
        made.append(harness)
        if start:
            await connector.start(user_data=user_data, market_data=market_data)
            await connector.wait_connected()
        return harness

    yield factory
    for harness in made:
        await harness.connector.close()
        await harness.sim.stop()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    """A simulator with moving prices and a connected connector."""
    return await make_harness()
