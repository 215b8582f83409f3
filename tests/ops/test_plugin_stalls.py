"""A plugin that blocks the event loop is named: in the log, its stall counter, /metrics and the
run summary; per-plugin hook calls, overruns, failures and disabled state are in /metrics.

A real bot on the simulator with the http plugin, asked over loopback; the stalls are real
blocking calls on the loop (inside a hook, inside a task a plugin spawned).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager

import aiohttp
import pytest
from loguru import logger

from framework import BotContext, Tick, hookimpl
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import SimBotFactory, until
from tests.ops.test_http_sim import get, samples, start

RUNTIME = {"loop_check_interval": 0.05, "loop_stall_warning": 0.3}


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    yield lines
    logger.remove(sink)


class BlocksInOnTick:
    """Blocks the loop once, for ``block`` seconds, in the first ``on_tick`` after it is set."""

    def __init__(self) -> None:
        self.block = 0.0
        self.ticks = 0

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        self.ticks += 1
        if self.block:
            seconds, self.block = self.block, 0.0
            time.sleep(seconds)  # the point: a synchronous call blocks the loop


class BlocksInATask:
    """Spawns a task that, once ``go`` is set, blocks the loop for 0.8 s."""

    def __init__(self) -> None:
        self.go = asyncio.Event()

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        ctx.spawn(self._chore(), name="chore", owner="chores")
        yield

    async def _chore(self) -> None:
        await self.go.wait()
        time.sleep(0.8)  # noqa: ASYNC251 - the point: a synchronous call blocks the loop
        await asyncio.sleep(3600)


class Fails:
    """Raises in every ``on_tick``: the circuit breaker disables it."""

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        raise RuntimeError("boom")


async def test_a_plugin_blocking_the_loop_in_a_hook_is_named_everywhere(
    sim_bot: SimBotFactory,
    sim_exchange: SimExchange,
    client: aiohttp.ClientSession,
    warnings: list[str],
) -> None:
    blocker = BlocksInOnTick()
    bot, _, _, base = await start(
        sim_bot, extra={"blocker": blocker}, overrides={"runtime": RUNTIME}
    )
    await until(lambda: blocker.ticks >= 1)
    blocker.block = 0.8
    await sim_exchange.move_price("BTCUSDT", "61000")
    await until(lambda: bot.watchdog.stalls_by_plugin.get("blocker", 0) >= 1)

    (line,) = [w for w in warnings if "event loop stalled" in w and "'blocker'" in w]
    assert "in plugin 'blocker', hook on_tick" in line
    assert float(line.split("stalled for ")[1].split(" s")[0]) >= 0.7

    _, text = await get(client, base + "/metrics")
    got = samples(text)
    assert got[("tradeloop_plugin_stalls_total", (("plugin", "blocker"),))] == 1
    assert got[("tradeloop_plugin_stalled_seconds_total", (("plugin", "blocker"),))] >= 0.7
    assert got[("tradeloop_plugin_overruns_total", (("plugin", "blocker"),))] == 1
    calls = ("tradeloop_plugin_hook_calls_total", (("hook", "on_tick"), ("plugin", "blocker")))
    assert got[calls] >= 2
    assert got[("tradeloop_plugin_disabled", (("plugin", "blocker"),))] == 0

    summary = await bot.stop()
    loop = summary["loop"]
    assert loop["stalls_by_plugin"] == {"blocker": 1}
    assert loop["stalled_s_by_plugin"]["blocker"] >= 0.7
    (stall,) = [s for s in loop["recent_stalls"] if s["plugin"] == "blocker"]
    assert stall["hook"] == "on_tick"
    assert stall["seconds"] >= 0.7
    assert summary["plugin_overruns"] == {"blocker": 1}
    assert summary["plugin_calls"]["blocker"]["on_tick"] >= 2


async def test_a_stall_in_a_plugins_task_names_the_plugin_and_the_task(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession, warnings: list[str]
) -> None:
    chores = BlocksInATask()
    bot, _, _, base = await start(sim_bot, extra={"chores": chores}, overrides={"runtime": RUNTIME})
    chores.go.set()
    await until(lambda: bot.watchdog.stalls_by_plugin.get("chores", 0) >= 1)

    (line,) = [w for w in warnings if "event loop stalled" in w and "'chores'" in w]
    assert "in plugin 'chores', task 'chores:chore'" in line
    assert "test_plugin_stalls.py" in line  # the innermost frame: where it blocked
    _, text = await get(client, base + "/metrics")
    assert samples(text)[("tradeloop_plugin_stalls_total", (("plugin", "chores"),))] == 1
    summary = await bot.stop()
    (stall,) = [s for s in summary["loop"]["recent_stalls"] if s["plugin"] == "chores"]
    assert stall["task"] == "chores:chore"
    assert stall["hook"] is None


async def test_per_plugin_calls_failures_and_disabled_state_in_metrics(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, client: aiohttp.ClientSession
) -> None:
    bot, _, _, base = await start(
        sim_bot, extra={"fails": Fails()}, overrides={"hooks": {"max_failures": 2}}
    )
    await sim_exchange.move_price("BTCUSDT", "61000")
    await sim_exchange.move_price("BTCUSDT", "62000")
    await until(lambda: bot.ctx.stats()["disabled_plugins"].get("fails") is not None)

    _, text = await get(client, base + "/metrics")
    got = samples(text)
    assert got[("tradeloop_plugin_disabled", (("plugin", "fails"),))] == 1
    assert got[("tradeloop_plugin_disabled", (("plugin", "http"),))] == 0
    assert got[("tradeloop_plugin_failures_total", (("plugin", "fails"),))] == 2
    assert got[("tradeloop_plugin_failures_total", (("plugin", "http"),))] == 0
    assert got[("tradeloop_plugin_overruns_total", (("plugin", "fails"),))] == 0
    calls = ("tradeloop_plugin_hook_calls_total", (("hook", "on_tick"), ("plugin", "fails")))
    assert got[calls] == 2  # called until disabled, not after
    lifespan = ("tradeloop_plugin_hook_calls_total", (("hook", "lifespan"), ("plugin", "http")))
    assert got[lifespan] == 2  # the hook, and the start of the context manager it returned
    await bot.stop()
