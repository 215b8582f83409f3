"""The bot's lifecycle, in process: lifespans, connector, jobs, tasks, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from framework import (
    BotContext,
    IntervalJob,
    ManualClock,
    PluginError,
    StreamState,
    StreamStatus,
    TradeCursors,
    hookimpl,
)
from framework.runtime import new_event_loop_factory, run_async
from framework.testing import BotFactory

EVENTS: list[str] = []


class Lifecycle:
    def __init__(self, name: str, *, fail_stop: bool = False, hang_stop: bool = False) -> None:
        self.name = name
        self.fail_stop = fail_stop
        self.hang_stop = hang_stop
        self.stopping = asyncio.Event()

    @hookimpl
    def lifespan(self, ctx: BotContext) -> contextlib.AbstractAsyncContextManager[None]:
        return self._lifespan()

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        EVENTS.append(f"start {self.name}")
        yield
        EVENTS.append(f"stop {self.name}")
        self.stopping.set()
        if self.hang_stop:
            await asyncio.Event().wait()
        if self.fail_stop:
            raise RuntimeError("stop failed")


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    EVENTS.clear()


async def test_lifespans_start_in_load_order_and_stop_in_reverse(bot_factory: BotFactory) -> None:
    bot = await bot_factory(
        plugins={"a": Lifecycle("a"), "b": Lifecycle("b", fail_stop=True), "c": Lifecycle("c")}
    )
    await bot.stop()
    assert EVENTS == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]


async def test_a_hanging_stop_cannot_stall_shutdown(bot_factory: BotFactory) -> None:
    bot = await bot_factory(
        {"runtime": {"shutdown_timeout": 0.2}},
        plugins={"a": Lifecycle("a"), "hang": Lifecycle("hang", hang_stop=True)},
    )
    await bot.stop()  # returns despite the plugin; pytest-timeout guards a hang
    assert EVENTS[-2:] == ["stop hang", "stop a"]
    assert not bot.running


async def test_every_plugin_stops_after_a_hanging_and_a_failing_stop(
    bot_factory: BotFactory,
) -> None:
    errors: list[PluginError] = []

    class Recorder(Lifecycle):
        @hookimpl
        def on_plugin_error(self, error: PluginError) -> None:
            errors.append(error)

    bot = await bot_factory(
        {"runtime": {"shutdown_timeout": 1.0}},
        plugins={
            "first": Recorder("first"),
            "fails": Lifecycle("fails", fail_stop=True),
            "hangs": Lifecycle("hangs", hang_stop=True),
            "last": Lifecycle("last"),
        },
    )
    summary = await bot.stop()
    assert EVENTS[4:] == ["stop last", "stop hangs", "stop fails", "stop first"]
    assert sorted(summary["stop_failures"]) == ["fails", "hangs"]
    assert "RuntimeError: stop failed" in summary["stop_failures"]["fails"]
    assert "did not stop within its share" in summary["stop_failures"]["hangs"]
    assert sorted((e.plugin, e.hook) for e in errors) == [
        ("fails", "lifespan"),
        ("hangs", "lifespan"),
    ]


async def test_a_stop_that_ignores_its_cancellation_is_left_behind(
    bot_factory: BotFactory,
) -> None:
    release = asyncio.Event()

    class Stubborn:
        @hookimpl
        def lifespan(self, ctx: BotContext) -> contextlib.AbstractAsyncContextManager[None]:
            return self._lifespan()

        @contextlib.asynccontextmanager
        async def _lifespan(self) -> AsyncIterator[None]:
            yield
            while not release.is_set():
                with contextlib.suppress(asyncio.CancelledError):
                    await release.wait()

    bot = await bot_factory(
        {"runtime": {"shutdown_timeout": 0.3}},
        plugins={"a": Lifecycle("a"), "stubborn": Stubborn()},
    )
    summary = await bot.stop()
    release.set()
    assert EVENTS[-1] == "stop a"
    assert list(summary["stop_failures"]) == ["stubborn"]


async def test_queued_notifications_reach_a_plugin_before_it_stops(
    bot_factory: BotFactory,
) -> None:
    class Slow(Lifecycle):
        @hookimpl
        async def on_stream_state(self, status: StreamStatus) -> None:
            await asyncio.sleep(0)
            EVENTS.append(f"event {status.reason}")

    bot = await bot_factory(plugins={"slow": Slow("slow")})
    for i in range(20):
        bot.ctx.hooks.on_stream_state(
            StreamStatus(stream="market", state=StreamState.STALE, at=1.0, reason=str(i))
        )
    await bot.stop()
    assert EVENTS == ["start slow", *(f"event {i}" for i in range(20)), "stop slow"]


async def test_the_summary_counts_what_the_stops_did(bot_factory: BotFactory) -> None:
    class Flusher(Lifecycle):
        flushed = 0

        @contextlib.asynccontextmanager
        async def _lifespan(self) -> AsyncIterator[None]:
            yield
            self.flushed = 7

        @hookimpl
        def summarize_run(self) -> dict[str, Any]:
            return {"flusher": {"flushed": self.flushed}}

    bot = await bot_factory(plugins={"flusher": Flusher("flusher")})
    summary = await bot.stop()
    assert summary["flusher"] == {"flushed": 7}


async def test_records_a_plugin_lost_are_in_the_summary(bot_factory: BotFactory) -> None:
    class Losing(Lifecycle):
        @hookimpl
        def lifespan(self, ctx: BotContext) -> contextlib.AbstractAsyncContextManager[None]:
            return self._losing(ctx)

        @contextlib.asynccontextmanager
        async def _losing(self, ctx: BotContext) -> AsyncIterator[None]:
            yield
            ctx.report_lost_records("losing", 219)

    bot = await bot_factory(plugins={"losing": Losing("losing")})
    summary = await bot.stop()
    assert summary["lost_records"] == {"losing": 219}


async def test_a_cancelled_stop_is_not_swallowed(bot_factory: BotFactory) -> None:
    hang = Lifecycle("hang", hang_stop=True)
    bot = await bot_factory(
        {"runtime": {"shutdown_timeout": 30}}, plugins={"a": Lifecycle("a"), "hang": hang}
    )
    stopping = asyncio.create_task(bot.stop())
    await hang.stopping.wait()
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert stopping.cancelled()


async def test_connector_and_jobs_are_wired(
    bot_factory: BotFactory, manual_clock: ManualClock
) -> None:
    class Connector:
        name = "fake"

    class Provider:
        runs = 0

        @hookimpl(trylast=True)
        def provide_exchange(self) -> Connector:
            return Connector()

        @hookimpl
        def register_jobs(self, ctx: BotContext) -> list[IntervalJob]:
            return [IntervalJob(name="poll", every=10, func=self.poll)]

        def poll(self) -> None:
            self.runs += 1

    provider = Provider()
    bot = await bot_factory(plugins={"provider": provider}, clock=manual_clock)
    assert bot.ctx.exchange.name == "fake"
    await manual_clock.advance(30)
    assert provider.runs == 3
    summary = await bot.stop()
    assert summary["jobs"]["provider.poll"] == {"runs": 3, "failures": 0, "skipped": 0}


async def test_no_connector_is_allowed_until_one_is_needed(bot_factory: BotFactory) -> None:
    bot = await bot_factory()
    assert not bot.ctx.has_exchange
    with pytest.raises(RuntimeError, match="no exchange connector"):
        _ = bot.ctx.exchange


async def test_spawned_task_failure_is_reported_and_tasks_are_cancelled(
    bot_factory: BotFactory,
) -> None:
    errors: list[PluginError] = []
    cancelled = asyncio.Event()

    class Worker:
        @hookimpl
        def lifespan(self, ctx: BotContext) -> contextlib.AbstractAsyncContextManager[None]:
            return self._run(ctx)

        @contextlib.asynccontextmanager
        async def _run(self, ctx: BotContext) -> AsyncIterator[None]:
            ctx.spawn(self.crash(), name="crash", owner="worker")
            ctx.spawn(self.forever(), name="forever", owner="worker")
            yield

        async def crash(self) -> None:
            raise ValueError("lost the socket")

        async def forever(self) -> None:
            try:
                await asyncio.Event().wait()
            finally:
                cancelled.set()

        @hookimpl
        def on_plugin_error(self, error: PluginError) -> None:
            errors.append(error)

    bot = await bot_factory(plugins={"worker": Worker()})
    await asyncio.sleep(0.01)
    assert [(e.plugin, e.hook) for e in errors] == [("worker", "task worker:crash")]
    await bot.stop()
    assert cancelled.is_set()


async def test_summary_survives_a_failing_contributor(bot_factory: BotFactory) -> None:
    class Good:
        @hookimpl
        def summarize_run(self) -> dict[str, Any]:
            return {"good": {"n": 1}}

    class Bad:
        @hookimpl
        def summarize_run(self) -> dict[str, Any]:
            raise RuntimeError("no summary for you")

    bot = await bot_factory(plugins={"good": Good(), "bad": Bad()})
    summary = await bot.stop()
    assert summary["good"] == {"n": 1}
    assert summary["plugin_errors"] == {"bad": 1}


async def test_request_stop_ends_run(bot_factory: BotFactory) -> None:
    bot = await bot_factory(start=False)
    asyncio.get_running_loop().call_later(0.05, bot.request_stop, "test says stop")
    summary = await bot.run()
    assert summary["exit_reason"] == "test says stop"


def test_runs_on_uvloop_when_available() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run_async(loop_module(), use_uvloop=True).startswith("uvloop")
    assert run_async(loop_module(), use_uvloop=False).startswith("asyncio")
    assert new_event_loop_factory(False) is asyncio.new_event_loop


class TradeRecorder:
    """A plugin that says which trades it holds (a journal would read its database)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    @hookimpl
    async def last_trade_ids(self) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_the_last_trade_ids_recorders_hold_seed_the_cache_smallest_first(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(
        plugins={
            "a": TradeRecorder({"BTCUSDT": 12, "ETHUSDT": 7}),
            "b": TradeRecorder({"BTCUSDT": 9}),
            "none": TradeRecorder(None),
            "broken": TradeRecorder(RuntimeError("database locked")),
        }
    )
    assert bot.account.trade_cursor("BTCUSDT") == 9  # both get every trade after it
    assert bot.account.trade_cursor("ETHUSDT") == 7
    assert bot.account.trade_cursor("SOLUSDT") is None
    assert bot.running  # a recorder that cannot answer does not stop the start
    assert [e.hook for e in bot.bus.errors] == ["last_trade_ids"]
    await bot.stop()


async def test_trades_held_after_the_cursor_are_known_only_when_every_recorder_holds_them(
    bot_factory: BotFactory,
) -> None:
    one = Decimal("1")
    a = TradeCursors(
        cursors={"BTCUSDT": 10},
        since=5_000,
        held=(("BTCUSDT", 1, 12, one), ("BTCUSDT", 1, 14, one), ("ETHUSDT", 2, 3, one)),
    )
    b = TradeCursors(cursors={"BTCUSDT": 12}, since=4_000, held=(("BTCUSDT", 1, 14, one),))
    bot = await bot_factory(plugins={"a": TradeRecorder(a), "b": TradeRecorder(b)})
    cache = bot.account
    assert cache.trade_cursor("BTCUSDT") == 10
    assert cache.trades_since == 4_000  # the earliest: both read back from then on
    assert cache.has_fill("BTCUSDT", 1, 12)  # b holds it within its cursor
    assert cache.has_fill("BTCUSDT", 1, 14)
    assert not cache.has_fill("ETHUSDT", 2, 3)  # b lacks it: read back for b
    await bot.stop()

    plain = {"BTCUSDT": 13}  # a mapping: cursors alone, no since, nothing held after them
    bot = await bot_factory(plugins={"a": TradeRecorder(a), "plain": TradeRecorder(plain)})
    cache = bot.account
    assert cache.has_fill("BTCUSDT", 1, 12)
    assert not cache.has_fill("BTCUSDT", 1, 14)
    assert cache.trades_since is None  # one recorder cannot say since when
    await bot.stop()
