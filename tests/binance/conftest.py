"""Fixtures: a seeded simulator on loopback and a connector pointed at it, both closed after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from plugins.binance import BinanceConfig
from plugins.sim.testing import SimFactory

from .helpers import FAST_CONFIG, Harness, make_connector

HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness(sim_factory: SimFactory) -> AsyncIterator[HarnessFactory]:
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
        sim = await sim_factory(**sim_overrides)
        connector, sink, ticks, statuses = make_connector(sim, config=config, routed=routed)
        harness = Harness(sim, connector, sink, ticks, statuses)
        made.append(harness)
        if start:
            await connector.start(user_data=user_data, market_data=market_data)
            await connector.wait_connected()
        return harness

    yield factory
    for harness in made:  # the simulators stop after this, in sim_factory's teardown
        await harness.connector.close()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    """A simulator with moving prices and a connected connector."""
    return await make_harness()
