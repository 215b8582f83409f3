"""Fixtures for the simulator tests: running exchanges, an HTTP session, a signing client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import msgspec
import pytest
from sim_helpers import FAST, Client

from plugins.sim import SimExchange, SimSettings

SimFactory = Callable[..., Awaitable[SimExchange]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    """Start simulators with settings overrides; all are stopped at teardown."""
    started: list[SimExchange] = []

    async def factory(clock: Callable[[], float] | None = None, **overrides: Any) -> SimExchange:
        raw = {**FAST, **overrides}
        settings = msgspec.convert(raw, SimSettings, strict=False)
        sim = SimExchange(settings, clock=clock)
        await sim.start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        await sim.stop()


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
