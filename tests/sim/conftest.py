"""Fixtures for the simulator tests: running exchanges, an HTTP session, a signing client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from sim_helpers import FAST, Client

from plugins.sim import SimExchange
from plugins.sim.testing import SimFactory


@pytest.fixture
def make_sim(sim_factory: SimFactory) -> SimFactory:
    """Start simulators with static prices unless overridden; all are stopped at teardown."""

    async def factory(*, clock: Callable[[], float] | None = None, **overrides: Any) -> SimExchange:
        return await sim_factory(clock=clock, **{**FAST, **overrides})

    return factory


@pytest.fixture
async def sim(make_sim: SimFactory) -> SimExchange:
    """A simulator with static prices."""
    return await make_sim()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(http: aiohttp.ClientSession, sim: SimExchange) -> Client:
    """A signing REST client bound to ``sim``."""
    return Client(http, sim)
