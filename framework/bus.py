"""HookBus: calls pluggy hook implementations from asyncio, one plugin isolated from another.

pluggy is synchronous and stops at the first exception, so the bus walks the implementations
itself (in pluggy's own order) and attributes every outcome to its plugin.

* ``notify`` (``on_*`` hooks) never waits on a plugin. A synchronous implementation runs at
  once, timed; an ``async def`` one goes to that plugin's own bounded queue and worker task.
  A plugin with a backlog gets its synchronous calls queued too, so each plugin sees events in
  the order they were emitted.
* ``ask`` awaits each implementation in turn under its time budget and returns one
  ``Outcome`` per plugin.

Every exception or budget overrun is logged with the plugin's name, counted, reported through
``on_plugin_error``, and ``max_failures`` failures in a row disable the plugin (circuit breaker).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from time import perf_counter
from typing import Any, NamedTuple

import pluggy
from loguru import logger

from framework.settings import DEFAULT_HOOK_TIMEOUTS, HooksSettings
from framework.types import PluginError

# Held plugins miss these (market data goes stale; the next tick replaces it).
UNHELD_HOOKS = frozenset({"on_tick"})
BUS_HOOK_WRAPPERS_FORBIDDEN = "hook wrappers are not supported on tradeloop hooks"
MAX_ERRORS_KEPT = 200


class _Impl(NamedTuple):
    plugin: str
    function: Callable[..., Any]
    # How to build the call's positional arguments from the spec-ordered tuple:
    # None = pass the tuple as is; otherwise the indexes to pick.
    picks: tuple[int, ...] | None
    is_async: bool


_Picker = Callable[[tuple[Any, ...]], tuple[Any, ...]]
# One implementation as ``notify`` calls it: (plugin, function, picker, is_async, impl);
# a plain tuple, unpacked in the loop (cheaper than a NamedTuple's attribute reads).
_Call = tuple[str, Callable[..., Any], _Picker | None, bool, _Impl]


def _picker(picks: tuple[int, ...] | None) -> _Picker | None:
    """A function building the call's positional arguments from the spec-ordered tuple."""
    if picks is None:
        return None
    if len(picks) == 0:
        return lambda args: ()
    if len(picks) == 1:
        index = picks[0]
        return lambda args: (args[index],)
    return itemgetter(*picks)


class _Route:
    """How ``notify`` delivers one hook, built on first use and dropped by ``invalidate``.

    ``impls``: the plugins called now (pluggy's order, neither disabled nor held), also as
    ready-to-unpack ``calls``; ``held``: the held plugins that implement the hook; ``budget``:
    the hook's time budget (``timeouts`` is read when the route is built); ``count``: the
    notifications sent through this route (``invalidate`` adds it to the bus's counts).
    """

    __slots__ = ("budget", "calls", "count", "held", "impls")

    def __init__(self, impls: tuple[_Impl, ...], held: tuple[_Impl, ...], budget: float) -> None:
        self.impls = impls
        self.held = held
        self.budget = budget
        self.count = 0
        self.calls: tuple[_Call, ...] = tuple(
            (i.plugin, i.function, _picker(i.picks), i.is_async, i) for i in impls
        )


@dataclass(frozen=True)
class Outcome:
    """One plugin's answer to an ``ask``: its value, or the error it failed with."""

    plugin: str
    ok: bool
    value: Any = None
    error: BaseException | None = None


_Job = tuple[str, _Impl, tuple[Any, ...]]


class HookBus:
    """Dispatches hooks to plugins with time budgets, isolation and a circuit breaker."""

    def __init__(
        self,
        pm: pluggy.PluginManager,
        settings: HooksSettings | None = None,
        *,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self.pm = pm
        settings = settings or HooksSettings()
        self.timeouts: dict[str, float] = {**DEFAULT_HOOK_TIMEOUTS, **settings.timeouts}
        self.max_failures = settings.max_failures
        self.queue_size = settings.queue_size
        self.ctx: Any = None  # set by the runtime; passed to on_plugin_error
        # Calls per hook (see ``counts``): asks, and notifications of routes since dropped.
        self._counts: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.failures_total: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.disabled: dict[str, str] = {}
        self.pause_at_first_failure: set[str] = set()  # strategies: paused when they raise
        self.errors: list[PluginError] = []
        self.observers: list[Callable[[str, Mapping[str, Any]], None]] = []
        self._wall_time = wall_time
        self._spec_args: dict[str, tuple[str, ...]] = {}
        self._routes: dict[str, _Route] = {}
        self.held: dict[str, deque[tuple[str, _Impl, tuple[Any, ...]]]] = {}
        self.held_dropped: Counter[str] = Counter()
        self._queues: dict[str, asyncio.Queue[_Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    # ------------------------------------------------------------------ implementations

    def spec_args(self, hook: str) -> tuple[str, ...]:
        """The hookspec's argument names, in order."""
        args = self._spec_args.get(hook)
        if args is None:
            caller: pluggy.HookCaller | None = getattr(self.pm.hook, hook, None)
            if caller is None or caller.spec is None:
                raise KeyError(f"unknown hook {hook!r}")
            args = tuple(caller.spec.argnames)
            self._spec_args[hook] = args
        return args

    def implementations(self, hook: str) -> tuple[_Impl, ...]:
        """Implementations in pluggy's call order, skipping disabled and held plugins."""
        route = self._routes.get(hook)
        if route is None:
            route = self._route(hook)
        return route.impls

    def _route(self, hook: str) -> _Route:
        self._counts.setdefault(hook, 0)  # ``counts`` lists hooks in the order first used
        every = self._build_impls(hook)
        held = self.held
        route = _Route(
            tuple(i for i in every if i.plugin not in held),
            tuple(i for i in every if i.plugin in held),
            self.timeouts[hook],
        )
        self._routes[hook] = route
        return route

    def _build_impls(self, hook: str) -> tuple[_Impl, ...]:
        spec_args = self.spec_args(hook)
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook)
        out: list[_Impl] = []
        for impl in reversed(caller.get_hookimpls()):
            if impl.wrapper or impl.hookwrapper:
                raise pluggy.PluginValidationError(
                    impl.plugin, f"{impl.plugin_name}.{hook}: {BUS_HOOK_WRAPPERS_FORBIDDEN}"
                )
            if impl.plugin_name in self.disabled:
                continue
            names = tuple(impl.argnames)
            picks = None if names == spec_args else tuple(spec_args.index(n) for n in names)
            is_async = inspect.iscoroutinefunction(impl.function)
            out.append(_Impl(impl.plugin_name, impl.function, picks, is_async))
        return tuple(out)

    def invalidate(self) -> None:
        """Forget cached routes (after a plugin is registered, removed, disabled or held)."""
        counts = self._counts
        for hook, route in self._routes.items():
            counts[hook] += route.count
        self._routes.clear()

    @property
    def counts(self) -> dict[str, int]:
        """Notifications and asks per hook so far (a snapshot), in the order first used."""
        routes = self._routes
        out: dict[str, int] = {}
        for hook, count in self._counts.items():
            route = routes.get(hook)
            if route is not None:
                count += route.count
            if count:
                out[hook] = count
        return out

    # -------------------------------------------------------------------------- hold

    def hold(self, plugins: Iterable[str]) -> None:
        """Stop delivering to ``plugins`` for now: ticks are skipped, other events kept.

        Kept events (at most ``queue_size`` per plugin, oldest dropped and counted) are
        delivered in order by ``release``.
        """
        for plugin in plugins:
            self.held.setdefault(plugin, deque(maxlen=self.queue_size))
        self.invalidate()

    def release(self, plugins: Iterable[str]) -> None:
        """Deliver what ``hold`` kept, in order, then resume normal delivery."""
        released = [(p, self.held.pop(p)) for p in list(plugins) if p in self.held]
        self.invalidate()
        for plugin, kept in released:
            while kept:
                hook, impl, args = kept.popleft()
                if plugin not in self.disabled:
                    self._deliver(hook, impl, args)

    def args_from(self, hook: str, kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        """Spec-ordered positional arguments from keyword arguments."""
        try:
            return tuple(kwargs[name] for name in self.spec_args(hook))
        except KeyError as exc:
            raise TypeError(f"{hook}() missing argument {exc.args[0]!r}") from None

    # ------------------------------------------------------------------------ notify

    def notify(self, hook: str, args: tuple[Any, ...]) -> None:
        """Deliver a notification to every plugin without waiting on any of them.

        ``args`` are the hookspec's arguments in spec order.

        Hot path (the account cache calls it once per changed entry): the hook's ``_Route``
        is built once; a hook nobody implements is only counted (and kept for held plugins);
        each implementation costs one clock read (its end is the next one's start).
        """
        route = self._routes.get(hook)
        if route is None:
            route = self._first_route(hook)
        route.count += 1
        if self.observers:
            self._observe(hook, args)
        calls = route.calls
        if calls:
            budget = route.budget
            queues = self._queues
            failures = self.failures
            started = perf_counter()
            for plugin, function, pick, is_async, impl in calls:
                if is_async or (plugin in queues and not queues[plugin].empty()):
                    self._enqueue(hook, impl, args)
                    started = perf_counter()
                    continue
                try:
                    if pick is None:
                        function(*args)
                    else:
                        function(*pick(args))
                except Exception as exc:  # noqa: BLE001 - isolating plugins is the bus's job
                    self.report_failure(plugin, hook, exc)
                    started = perf_counter()
                    continue
                finished = perf_counter()
                if finished - started > budget:
                    self.report_failure(plugin, hook, _overrun(finished - started, budget))
                elif plugin in failures:
                    del failures[plugin]
                started = finished
        if self.held and hook not in UNHELD_HOOKS:
            self._keep_for_held(hook, args)

    def _first_route(self, hook: str) -> _Route:
        try:
            return self._route(hook)
        except KeyError:  # an unknown hook (or one without a budget): counted, then refused
            self._counts[hook] = self._counts.get(hook, 0) + 1
            raise

    def _observe(self, hook: str, args: tuple[Any, ...]) -> None:
        kwargs = dict(zip(self.spec_args(hook), args, strict=True))
        for observer in self.observers:
            observer(hook, kwargs)

    def _keep_for_held(self, hook: str, args: tuple[Any, ...]) -> None:
        """Keep a notification for every held plugin implementing ``hook`` (``release``)."""
        # Read again: a plugin called by ``notify`` may have held or released plugins since.
        route = self._routes.get(hook)
        if route is None:
            return
        for impl in route.held:
            kept = self.held[impl.plugin]
            if len(kept) == kept.maxlen:
                self.held_dropped[impl.plugin] += 1
            kept.append((hook, impl, args))

    def _deliver(self, hook: str, impl: _Impl, args: tuple[Any, ...]) -> None:
        """One notification to one plugin, as ``notify`` would deliver it."""
        queue = self._queues.get(impl.plugin)
        if impl.is_async or (queue is not None and not queue.empty()):
            self._enqueue(hook, impl, args)
            return
        started = time.perf_counter()
        try:
            impl.function(*(args if impl.picks is None else [args[i] for i in impl.picks]))
        except Exception as exc:  # noqa: BLE001 - isolating plugins is the bus's job
            self.report_failure(impl.plugin, hook, exc)
            return
        elapsed = time.perf_counter() - started
        if elapsed > self.timeouts[hook]:
            self.report_failure(impl.plugin, hook, _overrun(elapsed, self.timeouts[hook]))
        else:
            self.failures.pop(impl.plugin, None)

    def notify_kw(self, hook: str, **kwargs: Any) -> None:
        """``notify`` with keyword arguments (slower; for code off the hot path)."""
        self.notify(hook, self.args_from(hook, kwargs))

    def _enqueue(self, hook: str, impl: _Impl, args: tuple[Any, ...]) -> None:
        if self._closed:
            return
        queue = self._queues.get(impl.plugin)
        if queue is None:
            queue = self._start_worker(impl.plugin)
        if queue.full():  # a slow plugin loses its oldest event; nobody else waits
            queue.get_nowait()
            queue.task_done()
            self.dropped[impl.plugin] += 1
            dropped = self.dropped[impl.plugin]
            if dropped in (1, 10, 100, 1000) or dropped % 10000 == 0:
                logger.bind(plugin=impl.plugin).warning(
                    "plugin {!r} is falling behind: {} queued events dropped so far",
                    impl.plugin,
                    dropped,
                )
        queue.put_nowait((hook, impl, args))

    def _start_worker(self, plugin: str) -> asyncio.Queue[_Job]:
        queue: asyncio.Queue[_Job] = asyncio.Queue(self.queue_size)
        self._queues[plugin] = queue
        self._workers[plugin] = asyncio.get_running_loop().create_task(
            self._work(plugin, queue), name=f"tradeloop-plugin:{plugin}"
        )
        return queue

    async def _work(self, plugin: str, queue: asyncio.Queue[_Job]) -> None:
        while True:
            hook, impl, args = await queue.get()
            try:
                if plugin not in self.disabled:
                    await self._call(hook, impl, args)
            finally:
                queue.task_done()

    async def _call(self, hook: str, impl: _Impl, args: tuple[Any, ...]) -> Outcome:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeouts[hook]):
                call_args = args if impl.picks is None else [args[i] for i in impl.picks]
                result = impl.function(*call_args)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as exc:  # noqa: BLE001 - CancelledError is BaseException and passes
            if isinstance(exc, TimeoutError) and not isinstance(exc, PluginOverrun):
                exc = PluginOverrun(
                    f"did not finish within its budget of {self.timeouts[hook] * 1000:.0f} ms"
                )
            self.report_failure(impl.plugin, hook, exc)
            return Outcome(impl.plugin, ok=False, error=exc)
        if not impl.is_async:
            elapsed = time.perf_counter() - started
            if elapsed > self.timeouts[hook]:
                error = _overrun(elapsed, self.timeouts[hook])
                self.report_failure(impl.plugin, hook, error)
                return Outcome(impl.plugin, ok=False, value=result, error=error)
        self.failures.pop(impl.plugin, None)
        return Outcome(impl.plugin, ok=True, value=result)

    # --------------------------------------------------------------------------- ask

    async def ask(
        self, hook: str, kwargs: Mapping[str, Any], *, plugins: Iterable[str] | None = None
    ) -> list[Outcome]:
        """Await every implementation in turn (or only those of ``plugins``)."""
        self._counts[hook] = self._counts.get(hook, 0) + 1
        args = self.args_from(hook, kwargs)
        wanted = None if plugins is None else set(plugins)
        outcomes = []
        for impl in self._build_impls(hook):  # held plugins are asked too
            if wanted is None or impl.plugin in wanted:
                outcomes.append(await self._call(hook, impl, args))
        return outcomes

    async def ask_first(self, hook: str, kwargs: Mapping[str, Any]) -> Outcome | None:
        """The first implementation that answers something other than ``None``."""
        self._counts[hook] = self._counts.get(hook, 0) + 1
        args = self.args_from(hook, kwargs)
        for impl in self._build_impls(hook):
            outcome = await self._call(hook, impl, args)
            if not outcome.ok or outcome.value is not None:
                return outcome
        return None

    # ---------------------------------------------------------------- failures, breaker

    def report_failure(self, plugin: str, hook: str, exc: BaseException) -> None:
        """Count, log and report a failure of ``plugin`` in ``hook`` (or a task it owns)."""
        count = self.failures.get(plugin, 0) + 1
        self.failures[plugin] = count
        self.failures_total[plugin] += 1
        limit = 1 if plugin in self.pause_at_first_failure else self.max_failures
        disable = count >= limit and plugin not in self.disabled
        log = logger.bind(plugin=plugin)
        if isinstance(exc, PluginOverrun):
            log.error("plugin {!r} overran its budget in {}: {}", plugin, hook, exc)
        else:
            log.opt(exception=exc).error("plugin {!r} failed in {}: {!r}", plugin, hook, exc)
        error = PluginError(
            plugin=plugin,
            hook=hook,
            error=f"{type(exc).__name__}: {exc}",
            consecutive_failures=count,
            disabled=disable,
            at=self._wall_time(),
        )
        self.errors.append(error)
        del self.errors[:-MAX_ERRORS_KEPT]
        if disable:
            if plugin in self.pause_at_first_failure:
                self.disable(plugin, f"paused after {type(exc).__name__} in {hook}: {exc}")
            else:
                self.disable(plugin, f"{count} failures in a row, last in {hook}")
        if hook != "on_plugin_error":
            self.notify("on_plugin_error", (self.ctx, error))

    def disable(self, plugin: str, reason: str) -> None:
        """Stop calling ``plugin``: its queued and future events are skipped."""
        if plugin in self.disabled:
            return
        self.disabled[plugin] = reason
        self.invalidate()
        logger.bind(plugin=plugin).error("plugin {!r} disabled: {}", plugin, reason)

    # ------------------------------------------------------------------------ shutdown

    async def drain(self, within: float) -> bool:
        """Wait until every queued notification is handled; False if time ran out."""
        pending = [q.join() for q in self._queues.values()]
        if not pending:
            return True
        try:
            async with asyncio.timeout(within):
                await asyncio.gather(*pending)
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        """Cancel every worker and wait for them."""
        self._closed = True
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()

    def stats(self) -> dict[str, Any]:
        """Counters for the run summary."""
        return {
            "hooks": self.counts,
            "plugin_errors": dict(self.failures_total),
            "dropped_events": dict(self.dropped),
            "disabled_plugins": dict(self.disabled),
            "held_dropped_events": dict(self.held_dropped),
        }


class PluginOverrun(TimeoutError):
    """A plugin took longer than its hook's time budget."""


def _overrun(elapsed: float, budget: float) -> PluginOverrun:
    return PluginOverrun(f"took {elapsed * 1000:.1f} ms, budget {budget * 1000:.0f} ms")
