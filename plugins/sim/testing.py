"""pytest fixtures for testing plugins against the simulated exchange (a ``pytest11`` plugin).

Active once tradeloop is installed, next to the core's fixtures (``bot_factory``,
``manual_clock``, ``hook_recorder``):

* ``sim_factory``: ``await sim_factory(**overrides)`` starts a ``SimExchange`` on loopback
  (seeded, prices moving 20 times a second unless overridden); all are stopped after the test.
* ``sim_exchange``: one such simulator with the defaults.
* ``sim_bot``: ``await sim_bot(plugins={"name": obj})`` builds and starts a real ``Bot`` whose
  real ``binance`` connector trades on ``sim_exchange`` (or ``sim=``), on the ``manual_clock``,
  and returns once its streams are connected; stopped after the test, before the simulator.

``until(predicate)`` waits for something another task does, without timing assertions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import msgspec
import pytest

from framework.clock import Clock, ManualClock
from framework.runtime import Bot
from framework.settings import deep_merge
from framework.testing import BotFactory
from plugins.binance import BinanceConfig, BinancePlugin

from .config import SimSettings
from .exchange import SimExchange

# Test defaults of the simulator: fixed seed, prices that move, quick pings.
SIM_TEST_DEFAULTS: dict[str, Any] = {"updates_per_second": 20.0, "ping_interval": 0.5, "seed": 7}

# Short connector timings so reconnects and retries happen within a test; nothing waits on them.
FAST_BINANCE: dict[str, Any] = {
    "keepalive_interval": 60.0,
    "stale_after": 1.0,
    "ping_interval": 0.2,
    "reconnect_base": 0.02,
    "reconnect_cap": 0.2,
    "rotate_overlap": 0.1,
    "rest_timeout": 2.0,
    "retries": 3,
    "retry_base": 0.01,
    "retry_cap": 0.05,
    "resolve_attempts": 5,
    "not_found_spacing": 0.3,
    "max_rate_wait": 3.0,
}

CONNECT_TIMEOUT = 10.0


def sim_settings(**overrides: Any) -> SimSettings:
    """``SimSettings`` from the test defaults and ``overrides`` (validated)."""
    return msgspec.convert({**SIM_TEST_DEFAULTS, **overrides}, SimSettings, strict=False)


def fast_binance_config(**overrides: Any) -> BinanceConfig:
    """The ``binance`` connector's settings with test timings, plus ``overrides``."""
    return msgspec.convert({**FAST_BINANCE, **overrides}, BinanceConfig, strict=False)


async def until(predicate: Callable[[], object], *, within: float = 10.0) -> None:
    """Poll ``predicate`` until it is truthy; ``TimeoutError`` after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state owned by other tasks
            await asyncio.sleep(0.01)


class SimFactory(Protocol):
    """Signature of the ``sim_factory`` fixture."""

    def __call__(
        self, *, clock: Callable[[], float] | None = None, **overrides: Any
    ) -> Awaitable[SimExchange]: ...


class SimBotFactory(Protocol):
    """Signature of the ``sim_bot`` fixture."""

    def __call__(
        self,
        plugins: Mapping[str, object] | None = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        sim: SimExchange | None = None,
        clock: Clock | None = None,
        binance: Mapping[str, Any] | None = None,
        entry_points: bool = False,
        start: bool = True,
    ) -> Awaitable[Bot]: ...


@pytest.fixture
async def sim_factory() -> AsyncIterator[SimFactory]:
    """Start simulators on loopback (``plugins.sim`` settings as keywords); stopped after the
    test."""
    started: list[SimExchange] = []

    async def make(*, clock: Callable[[], float] | None = None, **overrides: Any) -> SimExchange:
        sim = SimExchange(sim_settings(**overrides), clock=clock)
        await sim.start("127.0.0.1", 0)
        started.append(sim)
        return sim

    yield make
    for sim in reversed(started):
        await sim.stop()


@pytest.fixture
async def sim_exchange(sim_factory: SimFactory) -> SimExchange:
    """A running simulator with the test defaults (seed 7, moving prices)."""
    return await sim_factory()


@pytest.fixture
async def sim_bot(
    sim_exchange: SimExchange,
    bot_factory: BotFactory,
    manual_clock: ManualClock,
    tmp_path: Path,
) -> AsyncIterator[SimBotFactory]:
    """Start bots whose ``binance`` connector trades on the simulator, with your plugins.

    ``await sim_bot(plugins={"name": obj}, overrides={...})``: ``overrides`` are settings
    (as in ``settings.yaml``'s ``default`` section), ``sim`` another simulator than
    ``sim_exchange``, ``clock`` another clock than ``manual_clock``, ``binance`` connector
    settings; ``entry_points=True`` also loads the installed plugins the settings enable (the
    built-ins, such as reconciliation, unless their block says ``enabled: false``). Returns once
    the market and user-data streams are connected.
    """
    bots: list[Bot] = []

    async def make(
        plugins: Mapping[str, object] | None = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        sim: SimExchange | None = None,
        clock: Clock | None = None,
        binance: Mapping[str, Any] | None = None,
        entry_points: bool = False,
        start: bool = True,
    ) -> Bot:
        target = sim or sim_exchange
        wiring: dict[str, Any] = {
            "exchange": {
                "name": "sim",
                "rest_url": target.rest_url,
                "stream_url": target.ws_url,
                "api_key": target.settings.api_key,
                "api_secret": target.settings.api_secret,
                "symbols": list(target.settings.symbols),
            },
            "runtime": {"data_dir": str(tmp_path / f"bot{len(bots)}")},
        }
        extra = dict(plugins or {})
        if entry_points:  # the installed binance plugin, configured by its settings block
            wiring["plugins"] = {"binance": {**FAST_BINANCE, **(binance or {})}}
        else:
            connector = BinancePlugin(
                fast_binance_config(**(binance or {})), exchange_time=target.clock
            )
            extra = {"binance": connector, **extra}
        bot = await bot_factory(
            deep_merge(wiring, overrides or {}),
            plugins=extra,
            clock=clock or manual_clock,
            entry_points=entry_points,
            start=False,
        )
        bots.append(bot)
        if start:
            await bot.start()
            exchange = bot.ctx.plugin("binance")
            if isinstance(exchange, BinancePlugin) and exchange.connector is not None:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    await exchange.connector.wait_connected()
        return bot

    yield make
    for bot in reversed(bots):  # before the simulator stops: no reconnect storm at teardown
        if bot.running:
            await bot.stop()
