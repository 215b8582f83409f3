"""The hook bus: isolation, time budgets, ordering, circuit breaker, back-pressure."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pluggy
import pytest

from framework import PluginError, Tick, hookimpl
from framework.bus import HookBus
from framework.errors import PluginLoadError
from framework.loader import new_plugin_manager
from framework.settings import HooksSettings
from framework.testing import BotFactory, HookRecorder


def tick(n: int, symbol: str = "BTCUSDT") -> Tick:
    """Tick number ``n`` (its ``update_id``), fresh by the system clock the bots run on."""
    price = Decimal(100 + n)
    return Tick(
        symbol=symbol,
        bid=price,
        bid_qty=Decimal(1),
        ask=price,
        ask_qty=Decimal(1),
        event_time=int(time.time() * 1000),
        update_id=n,
    )


class SyncCounter:
    def __init__(self) -> None:
        self.seen: list[int] = []

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        self.seen.append(tick.update_id)


class AsyncCounter:
    def __init__(self) -> None:
        self.seen: list[int] = []

    @hookimpl
    async def on_tick(self, tick: Tick) -> None:
        await asyncio.sleep(0)
        self.seen.append(tick.update_id)


class Raiser:
    calls = 0

    @hookimpl
    def on_tick(self) -> None:
        self.calls += 1
        raise RuntimeError("strategy bug")


class SlowAsync:
    def __init__(self) -> None:
        self.started = 0

    @hookimpl
    async def on_tick(self) -> None:
        self.started += 1
        await asyncio.sleep(3600)


class BlockingSync:
    @hookimpl
    def on_tick(self) -> None:
        time.sleep(0.02)


class ErrorWatcher:
    def __init__(self) -> None:
        self.errors: list[PluginError] = []

    @hookimpl
    def on_plugin_error(self, error: PluginError) -> None:
        self.errors.append(error)


async def test_hook_on_tick_sync_plugin_runs_inline_with_subset_of_args(
    bot_factory: BotFactory,
) -> None:
    counter = SyncCounter()
    bot = await bot_factory(plugins={"counter": counter})
    bot.ctx.hooks.on_tick(tick(1))
    assert counter.seen == [1]
    assert bot.bus.counts["on_tick"] == 1


async def test_hook_on_tick_async_plugin_gets_every_event_in_order(bot_factory: BotFactory) -> None:
    counter = AsyncCounter()
    bot = await bot_factory(plugins={"counter": counter})
    for n in range(50):
        bot.ctx.hooks.on_tick(tick(n))
    assert counter.seen == []  # queued: the emitter never waits on an async plugin
    assert await bot.bus.drain(within=5)
    assert counter.seen == list(range(50))


async def test_failing_plugin_is_isolated_reported_and_disabled(bot_factory: BotFactory) -> None:
    good, bad, watcher = SyncCounter(), Raiser(), ErrorWatcher()
    bot = await bot_factory(
        {"hooks": {"max_failures": 3}},
        plugins={"good": good, "bad": bad, "watcher": watcher},
    )
    for n in range(5):
        bot.ctx.hooks.on_tick(tick(n))
    assert good.seen == [0, 1, 2, 3, 4]
    assert bad.calls == 3  # disabled after the third failure in a row
    assert [e.consecutive_failures for e in watcher.errors] == [1, 2, 3]
    assert watcher.errors[-1].disabled
    assert watcher.errors[0].plugin == "bad"
    assert watcher.errors[0].hook == "on_tick"
    assert "strategy bug" in watcher.errors[0].error
    assert "bad" in bot.bus.disabled
    assert bot.bus.stats()["plugin_errors"] == {"bad": 3}


async def test_success_resets_the_consecutive_failure_count() -> None:
    class Flaky:
        def __init__(self) -> None:
            self.n = 0

        @hookimpl
        def on_tick(self) -> None:
            self.n += 1
            if self.n % 2:
                raise ValueError("odd")

    pm = new_plugin_manager()
    pm.register(Flaky(), name="flaky")
    bus = HookBus(pm, HooksSettings(max_failures=2))
    for n in range(10):
        bus.notify("on_tick", (None, tick(n)))
    assert "flaky" not in bus.disabled
    assert bus.failures_total["flaky"] == 5


async def test_slow_async_plugin_does_not_delay_others_and_times_out(
    bot_factory: BotFactory,
) -> None:
    slow, fast, watcher = SlowAsync(), AsyncCounter(), ErrorWatcher()
    bot = await bot_factory(
        {"hooks": {"timeouts": {"on_tick": 0.05}, "max_failures": 2}},
        plugins={"slow": slow, "fast": fast, "watcher": watcher},
    )
    for n in range(3):
        bot.ctx.hooks.on_tick(tick(n))
    await asyncio.sleep(0.01)
    assert fast.seen == [0, 1, 2]  # handled while the slow plugin is still stuck
    assert await bot.bus.drain(within=5)
    assert slow.started == 2  # two timeouts in a row disabled it; the third event was skipped
    assert [e.plugin for e in watcher.errors] == ["slow", "slow"]
    assert "budget of 50 ms" in watcher.errors[0].error
    assert "slow" in bot.bus.disabled


async def test_blocking_sync_plugin_is_counted_as_overrun(bot_factory: BotFactory) -> None:
    watcher = ErrorWatcher()
    bot = await bot_factory(
        {"hooks": {"timeouts": {"on_tick": 0.005}}},
        plugins={"blocking": BlockingSync(), "watcher": watcher},
    )
    bot.ctx.hooks.on_tick(tick(1))
    assert [e.plugin for e in watcher.errors] == ["blocking"]
    assert "budget 5 ms" in watcher.errors[0].error


async def test_full_queue_drops_oldest_events_of_that_plugin_only(
    bot_factory: BotFactory,
) -> None:
    slow_reader = AsyncCounter()
    bot = await bot_factory({"hooks": {"queue_size": 10}}, plugins={"a": slow_reader})
    for n in range(25):
        bot.ctx.hooks.on_tick(tick(n))
    assert bot.bus.dropped["a"] == 15
    assert await bot.bus.drain(within=5)
    assert slow_reader.seen == list(range(15, 25))


async def test_sync_calls_queue_behind_a_backlog_to_keep_order() -> None:
    class Mixed:
        def __init__(self) -> None:
            self.events: list[str] = []

        @hookimpl
        async def on_tick(self, tick: Tick) -> None:
            await asyncio.sleep(0)
            self.events.append(f"tick{tick.update_id}")

        @hookimpl
        def on_stream_state(self, status: Any) -> None:
            self.events.append(f"state:{status}")

    mixed = Mixed()
    pm = new_plugin_manager()
    pm.register(mixed, name="mixed")
    bus = HookBus(pm)
    bus.notify("on_tick", (None, tick(1)))
    bus.notify("on_stream_state", (None, "connected"))
    bus.notify("on_tick", (None, tick(2)))
    assert await bus.drain(within=5)
    await bus.aclose()
    assert mixed.events == ["tick1", "state:connected", "tick2"]


async def test_ask_returns_one_outcome_per_plugin_and_survives_errors() -> None:
    class Answer:
        @hookimpl
        def summarize_run(self) -> dict[str, int]:
            return {"x": 1}

    class Broken:
        @hookimpl
        async def summarize_run(self) -> dict[str, int]:
            raise KeyError("nope")

    pm = new_plugin_manager()
    pm.register(Answer(), name="answer")
    pm.register(Broken(), name="broken")
    bus = HookBus(pm)
    outcomes = await bus.ask("summarize_run", {"ctx": None})
    assert [(o.plugin, o.ok) for o in outcomes] == [("broken", False), ("answer", True)]
    assert outcomes[1].value == {"x": 1}
    assert isinstance(outcomes[0].error, KeyError)


async def test_ask_first_skips_none_answers() -> None:
    class Passes:
        @hookimpl
        def provide_exchange(self) -> None:
            return None

    class Provides:
        @hookimpl(trylast=True)
        def provide_exchange(self) -> str:
            return "connector"

    pm = new_plugin_manager()
    pm.register(Provides(), name="default")
    pm.register(Passes(), name="passes")
    bus = HookBus(pm)
    outcome = await bus.ask_first("provide_exchange", {"ctx": None})
    assert outcome is not None
    assert (outcome.plugin, outcome.value) == ("default", "connector")


async def test_hook_wrappers_are_refused_at_registration(bot_factory: BotFactory) -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def on_tick(self) -> Any:
            return (yield)

    with pytest.raises(PluginLoadError, match="wrappers are not supported"):
        await bot_factory(plugins={"wrapper": Wrapper()})


async def test_recorder_sees_notifications(
    bot_factory: BotFactory, hook_recorder: HookRecorder
) -> None:
    bot = await bot_factory()
    hook_recorder.attach(bot)
    bot.ctx.hooks.on_tick(tick(7))
    assert [kw["tick"].update_id for kw in hook_recorder.of("on_tick")] == [7]


def test_unknown_hook_name_is_a_key_error() -> None:
    bus = HookBus(new_plugin_manager())
    with pytest.raises(KeyError):
        bus.notify("on_tik", (None,))


def test_bus_walks_pluggy_order() -> None:
    order: list[str] = []

    class A:
        @hookimpl
        def on_tick(self) -> None:
            order.append("a")

    class B:
        @hookimpl(tryfirst=True)
        def on_tick(self) -> None:
            order.append("b")

    class C:
        @hookimpl
        def on_tick(self) -> None:
            order.append("c")

    pm: pluggy.PluginManager = new_plugin_manager()
    for name, plugin in (("a", A()), ("b", B()), ("c", C())):
        pm.register(plugin, name=name)
    pm.hook.on_tick(ctx=None, tick=None)
    expected = list(order)
    order.clear()
    HookBus(pm).notify("on_tick", (None, None))
    assert order == expected == ["b", "c", "a"]


def test_a_hook_nobody_implements_is_still_counted_observed_and_kept_for_held_plugins() -> None:
    class Strategy:
        def __init__(self) -> None:
            self.fills: list[str] = []

        @hookimpl
        def on_fill(self, fill: Any) -> None:
            self.fills.append(fill)

    seen: list[tuple[str, dict[str, Any]]] = []
    strategy = Strategy()
    pm = new_plugin_manager()
    pm.register(strategy, name="strategy:s")
    bus = HookBus(pm)
    bus.add_observer(lambda hook, kwargs: seen.append((hook, dict(kwargs))))
    bus.notify("on_stream_state", (None, "connected"))  # no implementation at all
    bus.hold(["strategy:s"])
    bus.notify("on_fill", (None, "f1"))  # its only implementation is held
    assert strategy.fills == []
    bus.release(["strategy:s"])
    assert strategy.fills == ["f1"]
    assert bus.counts == {"on_stream_state": 1, "on_fill": 1}
    assert seen == [
        ("on_stream_state", {"ctx": None, "status": "connected"}),
        ("on_fill", {"ctx": None, "fill": "f1"}),
    ]


def test_each_implementation_gets_the_arguments_it_names() -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []

    class Nothing:
        @hookimpl
        def on_balance_update(self) -> None:
            calls.append(("nothing", ()))

    class After:
        @hookimpl
        def on_balance_update(self, after: Any) -> None:
            calls.append(("after", (after,)))

    class Reordered:
        @hookimpl
        def on_balance_update(self, after: Any, ctx: Any) -> None:
            calls.append(("reordered", (after, ctx)))

    class Every:
        @hookimpl
        def on_balance_update(self, ctx: Any, before: Any, after: Any) -> None:
            calls.append(("every", (ctx, before, after)))

    pm = new_plugin_manager()
    for name, plugin in (
        ("nothing", Nothing()),
        ("after", After()),
        ("reordered", Reordered()),
        ("every", Every()),
    ):
        pm.register(plugin, name=name)
    bus = HookBus(pm)
    bus.notify("on_balance_update", ("ctx", "before", "after"))
    assert sorted(calls) == [
        ("after", ("after",)),
        ("every", ("ctx", "before", "after")),
        ("nothing", ()),
        ("reordered", ("after", "ctx")),
    ]
