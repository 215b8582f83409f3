"""HookBus: the one way the core calls plugins, from asyncio, one plugin isolated from another.

pluggy is synchronous and stops at the first exception, so the bus walks the implementations
itself (in pluggy's own order) and attributes every outcome to its plugin. Every call of plugin
code goes through one path, ``_invoke`` (synchronous) / ``_invoke_async`` (awaited): the plugin
is named in its outcome, its hook's time budget (if the hook has one) is enforced, and a
failure is logged, counted, reported through ``on_plugin_error`` and fed to the circuit breaker
(``max_failures`` failures in a row disable the plugin).

* ``notify`` (``on_*`` hooks) never waits on a plugin. A synchronous implementation runs at
  once, timed (``_invoke``, inlined on this hot path); an ``async def`` one goes to that
  plugin's own bounded queue and worker task. A plugin with a backlog gets its synchronous
  calls queued too, so each plugin sees events in the order they were emitted.
* ``ask`` / ``ask_first`` await each implementation in turn under its time budget and return
  one ``Outcome`` per plugin (``provide_exchange``, ``register_jobs``, ``lifespan``,
  ``summarize_run``).
* ``ask_sync`` calls the synchronous setup hooks (``validate_settings``,
  ``register_commands``) and ``invoke`` one function (``declare_settings``, before the plugin
  is registered). With ``report=False`` (loading, before a bot runs) a failure is only
  attributed: the loader turns it into a load error.

The bus's state is private; the core reads it through ``stats``, ``disabled``, ``errors`` and
a few other read-only properties, and changes it through ``bind``, ``add_observer``,
``pause_on_failure``, ``hold``/``release``, ``mute``/``unmute``, ``disable``, ``drain`` and
``aclose``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from time import perf_counter
from types import CodeType, FrameType, MappingProxyType
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
        self._pm = pm
        settings = settings or HooksSettings()
        self._timeouts: dict[str, float] = {**DEFAULT_HOOK_TIMEOUTS, **settings.timeouts}
        self._max_failures = settings.max_failures
        self._queue_size = settings.queue_size
        self._ctx: Any = None  # the bot context, passed to on_plugin_error (``bind``)
        # Calls per hook (see ``counts``): asks, and notifications of routes since dropped.
        self._counts: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self._failures_total: Counter[str] = Counter()
        self._overruns: Counter[str] = Counter()
        # Calls per (plugin, hook) outside the live routes (asks, released events, and
        # notifications of routes since dropped); see ``plugin_calls``.
        self._plugin_calls: Counter[tuple[str, str]] = Counter()
        self._last_overrun: SlowCall | None = None
        self._dropped: Counter[str] = Counter()
        self._disabled: dict[str, str] = {}
        self._pause_at_first_failure: set[str] = set()  # strategies: paused when they raise
        self._errors: list[PluginError] = []
        self._observers: list[Callable[[str, Mapping[str, Any]], None]] = []
        self._wall_time = wall_time
        self._spec_args: dict[str, tuple[str, ...]] = {}
        self._routes: dict[str, _Route] = {}
        self._held: dict[str, deque[tuple[str, _Impl, tuple[Any, ...]]]] = {}
        self._held_dropped: Counter[str] = Counter()
        self._muted: set[str] = set()  # get no UNHELD_HOOKS (ticks); everything else as usual
        self._queues: dict[str, asyncio.Queue[_Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    # ------------------------------------------------------------------ wiring, reads

    def bind(self, ctx: Any) -> None:
        """The bot context: passed to ``on_plugin_error`` (and what the facade passes)."""
        self._ctx = ctx

    def add_observer(self, observer: Callable[[str, Mapping[str, Any]], None]) -> None:
        """Call ``observer(hook, kwargs)`` for every notification (tests, recorders)."""
        self._observers.append(observer)

    def pause_on_failure(self, plugins: Iterable[str]) -> None:
        """Disable these plugins at their first failure (strategies: paused when they raise)."""
        self._pause_at_first_failure.update(plugins)

    def pauses_on_failure(self, plugin: str) -> bool:
        """True for plugins that ``pause_on_failure`` named."""
        return plugin in self._pause_at_first_failure

    def budget(self, hook: str) -> float | None:
        """The hook's time budget in seconds (``hooks.timeouts``), ``None`` if it has none."""
        return self._timeouts.get(hook)

    def is_disabled(self, plugin: str) -> bool:
        """True once the circuit breaker (or ``disable``) stopped calling ``plugin``."""
        return plugin in self._disabled

    @property
    def disabled(self) -> Mapping[str, str]:
        """Disabled plugins and why (read-only)."""
        return MappingProxyType(self._disabled)

    @property
    def errors(self) -> Sequence[PluginError]:
        """The last failures, oldest first (at most ``MAX_ERRORS_KEPT``)."""
        return tuple(self._errors)

    @property
    def failures_total(self) -> Mapping[str, int]:
        """Failures per plugin so far (read-only; 0 for a plugin that never failed)."""
        return MappingProxyType(self._failures_total)

    @property
    def overruns(self) -> Mapping[str, int]:
        """Budget overruns per plugin so far (read-only; also counted in ``failures_total``)."""
        return MappingProxyType(self._overruns)

    @property
    def last_overrun(self) -> SlowCall | None:
        """The last call that overran its hook's budget (the watchdog names a stall by it)."""
        return self._last_overrun

    def plugins(self) -> tuple[str, ...]:
        """Every registered plugin's name (disabled ones too), in registration order."""
        return tuple(name for name, plugin in self._pm.list_name_plugin() if plugin is not None)

    def plugin_calls(self) -> dict[str, dict[str, int]]:
        """Calls per plugin and hook so far (a snapshot): notifications routed to it (an
        ``async def`` one counts when queued), asks, and events kept while it was held.

        Free on the hot path: a route counts its notifications once, and each plugin on it
        is credited with that count here."""
        totals = Counter(self._plugin_calls)
        for hook, route in self._routes.items():
            if route.count:
                for impl in route.impls:
                    totals[(impl.plugin, hook)] += route.count
        out: dict[str, dict[str, int]] = {}
        for (plugin, hook), n in sorted(totals.items()):
            if n:
                out.setdefault(plugin, {})[hook] = n
        return out

    @property
    def dropped(self) -> Mapping[str, int]:
        """Queued notifications dropped per plugin because it fell behind (read-only)."""
        return MappingProxyType(self._dropped)

    # ------------------------------------------------------------------ implementations

    def spec_args(self, hook: str) -> tuple[str, ...]:
        """The hookspec's argument names, in order."""
        args = self._spec_args.get(hook)
        if args is None:
            caller: pluggy.HookCaller | None = getattr(self._pm.hook, hook, None)
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

    def implementers(self, hook: str) -> tuple[str, ...]:
        """Every plugin implementing ``hook``, in pluggy's call order (disabled ones too)."""
        caller: pluggy.HookCaller = getattr(self._pm.hook, hook)
        return tuple(impl.plugin_name for impl in reversed(caller.get_hookimpls()))

    def _route(self, hook: str) -> _Route:
        self._counts.setdefault(hook, 0)  # ``counts`` lists hooks in the order first used
        every = self._build_impls(hook)
        held = self._held
        if self._muted and hook in UNHELD_HOOKS:
            every = tuple(i for i in every if i.plugin not in self._muted)
        route = _Route(
            tuple(i for i in every if i.plugin not in held),
            tuple(i for i in every if i.plugin in held),
            self._timeouts[hook],
        )
        self._routes[hook] = route
        return route

    def _build_impls(self, hook: str) -> tuple[_Impl, ...]:
        spec_args = self.spec_args(hook)
        caller: pluggy.HookCaller = getattr(self._pm.hook, hook)
        out: list[_Impl] = []
        for impl in reversed(caller.get_hookimpls()):
            if impl.wrapper or impl.hookwrapper:
                raise pluggy.PluginValidationError(
                    impl.plugin, f"{impl.plugin_name}.{hook}: {BUS_HOOK_WRAPPERS_FORBIDDEN}"
                )
            if impl.plugin_name in self._disabled:
                continue
            names = tuple(impl.argnames)
            picks = None if names == spec_args else tuple(spec_args.index(n) for n in names)
            is_async = inspect.iscoroutinefunction(impl.function)
            out.append(_Impl(impl.plugin_name, impl.function, picks, is_async))
        return tuple(out)

    def invalidate(self) -> None:
        """Forget cached routes (after a plugin is registered, removed, disabled or held)."""
        counts = self._counts
        calls = self._plugin_calls
        for hook, route in self._routes.items():
            counts[hook] += route.count
            if route.count:
                for impl in route.impls:
                    calls[(impl.plugin, hook)] += route.count
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

    def _count(self, hook: str) -> None:
        self._counts[hook] = self._counts.get(hook, 0) + 1

    # -------------------------------------------------------------------------- hold

    def hold(self, plugins: Iterable[str]) -> None:
        """Stop delivering to ``plugins`` for now: ticks are skipped, other events kept.

        Kept events (at most ``queue_size`` per plugin, oldest dropped and counted) are
        delivered in order by ``release``.
        """
        for plugin in plugins:
            self._held.setdefault(plugin, deque(maxlen=self._queue_size))
        self.invalidate()

    def release(self, plugins: Iterable[str]) -> None:
        """Deliver what ``hold`` kept, in order, then resume normal delivery."""
        released = [(p, self._held.pop(p)) for p in list(plugins) if p in self._held]
        self.invalidate()
        for plugin, kept in released:
            while kept:
                hook, impl, args = kept.popleft()
                if plugin not in self._disabled:
                    self._deliver(hook, impl, args)

    def mute(self, plugins: Iterable[str]) -> None:
        """Stop delivering ticks (``UNHELD_HOOKS``) to ``plugins``; their other notifications
        arrive as usual (an operator's pause of a strategy)."""
        self._muted.update(plugins)
        self.invalidate()

    def unmute(self, plugins: Iterable[str]) -> None:
        """Deliver ticks to ``plugins`` again."""
        self._muted.difference_update(plugins)
        self.invalidate()

    def args_from(self, hook: str, kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        """Spec-ordered positional arguments from keyword arguments."""
        try:
            return tuple(kwargs[name] for name in self.spec_args(hook))
        except KeyError as exc:
            raise TypeError(f"{hook}() missing argument {exc.args[0]!r}") from None

    # ------------------------------------------------------------- the one call path

    def _invoke(
        self, hook: str, impl: _Impl, args: tuple[Any, ...], *, report: bool = True
    ) -> Outcome:
        """Call one synchronous implementation: attributed, timed against the hook's budget,
        its failure reported (``report``) and fed to the circuit breaker.

        ``notify`` inlines this on its hot path (same steps, same order)."""
        self._plugin_calls[(impl.plugin, hook)] += 1
        started = perf_counter()
        try:
            result = impl.function(*(args if impl.picks is None else [args[i] for i in impl.picks]))
        except Exception as exc:  # noqa: BLE001 - isolating plugins is the bus's job
            return self._failed(hook, impl.plugin, exc, report=report)
        return self._finished(hook, impl.plugin, perf_counter() - started, result, report=report)

    async def _invoke_async(
        self,
        hook: str,
        impl: _Impl,
        args: tuple[Any, ...],
        *,
        report: bool = True,
        routed: bool = False,
    ) -> Outcome:
        """``_invoke`` for awaited calls: an awaitable result is awaited within the budget.

        ``routed``: a queued notification, already counted by its route."""
        if not routed:
            self._plugin_calls[(impl.plugin, hook)] += 1
        started = perf_counter()
        budget = self._timeouts.get(hook)
        try:
            async with asyncio.timeout(budget):
                call_args = args if impl.picks is None else [args[i] for i in impl.picks]
                result = impl.function(*call_args)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as exc:  # noqa: BLE001 - CancelledError is BaseException and passes
            if (
                budget is not None
                and isinstance(exc, TimeoutError)
                and not isinstance(exc, PluginOverrun)
            ):
                exc = PluginOverrun(f"did not finish within its budget of {budget * 1000:.0f} ms")
            return self._failed(hook, impl.plugin, exc, report=report)
        # a coroutine was cut off by the timeout; a plain function's time is checked after it
        elapsed = 0.0 if impl.is_async else perf_counter() - started
        return self._finished(hook, impl.plugin, elapsed, result, report=report)

    def _failed(self, hook: str, plugin: str, exc: Exception, *, report: bool) -> Outcome:
        if report:
            self.report_failure(plugin, hook, exc)
        return Outcome(plugin, ok=False, error=exc)

    def _finished(
        self, hook: str, plugin: str, elapsed: float, result: Any, *, report: bool
    ) -> Outcome:
        budget = self._timeouts.get(hook)
        if budget is not None and elapsed > budget:
            error = self._overran(plugin, hook, elapsed, budget)
            if report:
                self.report_failure(plugin, hook, error)
            return Outcome(plugin, ok=False, value=result, error=error)
        self._failures.pop(plugin, None)
        return Outcome(plugin, ok=True, value=result)

    # ------------------------------------------------------------------------ notify

    def notify(self, hook: str, args: tuple[Any, ...]) -> None:
        """Deliver a notification to every plugin without waiting on any of them.

        ``args`` are the hookspec's arguments in spec order.

        Hot path (the account cache calls it once per changed entry): the hook's ``_Route``
        is built once; a hook nobody implements is only counted (and kept for held plugins);
        each implementation costs one clock read (its end is the next one's start). The loop
        is ``_invoke`` inlined: the same call, budget check, report and breaker reset.
        """
        route = self._routes.get(hook)
        if route is None:
            route = self._first_route(hook)
        route.count += 1
        if self._observers:
            self._observe(hook, args)
        calls = route.calls
        if calls:
            budget = route.budget
            queues = self._queues
            failures = self._failures
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
                    error = self._overran(plugin, hook, finished - started, budget)
                    self.report_failure(plugin, hook, error)
                elif plugin in failures:
                    del failures[plugin]
                started = finished
        if self._held and hook not in UNHELD_HOOKS:
            self._keep_for_held(hook, args)

    def _overran(self, plugin: str, hook: str, elapsed: float, budget: float) -> PluginOverrun:
        """Remember a synchronous call that overran (``last_overrun``); the error to report."""
        self._last_overrun = SlowCall(plugin, hook, elapsed, time.monotonic())
        return _overrun(elapsed, budget)

    def _first_route(self, hook: str) -> _Route:
        try:
            return self._route(hook)
        except KeyError:  # an unknown hook (or one without a budget): counted, then refused
            self._count(hook)
            raise

    def _observe(self, hook: str, args: tuple[Any, ...]) -> None:
        kwargs = dict(zip(self.spec_args(hook), args, strict=True))
        for observer in self._observers:
            observer(hook, kwargs)

    def _keep_for_held(self, hook: str, args: tuple[Any, ...]) -> None:
        """Keep a notification for every held plugin implementing ``hook`` (``release``)."""
        # Read again: a plugin called by ``notify`` may have held or released plugins since.
        route = self._routes.get(hook)
        if route is None:
            return
        for impl in route.held:
            kept = self._held[impl.plugin]
            if len(kept) == kept.maxlen:
                self._held_dropped[impl.plugin] += 1
            kept.append((hook, impl, args))

    def _deliver(self, hook: str, impl: _Impl, args: tuple[Any, ...]) -> None:
        """One notification to one plugin, as ``notify`` would deliver it."""
        queue = self._queues.get(impl.plugin)
        if impl.is_async or (queue is not None and not queue.empty()):
            self._plugin_calls[(impl.plugin, hook)] += 1
            self._enqueue(hook, impl, args)
            return
        self._invoke(hook, impl, args)

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
            self._dropped[impl.plugin] += 1
            dropped = self._dropped[impl.plugin]
            if dropped in (1, 10, 100, 1000) or dropped % 10000 == 0:
                logger.bind(plugin=impl.plugin).warning(
                    "plugin {!r} is falling behind: {} queued events dropped so far",
                    impl.plugin,
                    dropped,
                )
        queue.put_nowait((hook, impl, args))

    def _start_worker(self, plugin: str) -> asyncio.Queue[_Job]:
        queue: asyncio.Queue[_Job] = asyncio.Queue(self._queue_size)
        self._queues[plugin] = queue
        self._workers[plugin] = asyncio.get_running_loop().create_task(
            self._work(plugin, queue), name=f"tradeloop-plugin:{plugin}"
        )
        return queue

    async def _work(self, plugin: str, queue: asyncio.Queue[_Job]) -> None:
        while True:
            hook, impl, args = await queue.get()
            try:
                if plugin not in self._disabled:
                    await self._invoke_async(hook, impl, args, routed=True)
            finally:
                queue.task_done()

    # --------------------------------------------------------------------- questions

    async def ask(
        self, hook: str, kwargs: Mapping[str, Any], *, plugins: Iterable[str] | None = None
    ) -> list[Outcome]:
        """Await every implementation in turn (or only those of ``plugins``)."""
        self._count(hook)
        args = self.args_from(hook, kwargs)
        wanted = None if plugins is None else set(plugins)
        outcomes = []
        for impl in self._build_impls(hook):  # held plugins are asked too
            if wanted is None or impl.plugin in wanted:
                outcomes.append(await self._invoke_async(hook, impl, args))
        return outcomes

    async def ask_first(self, hook: str, kwargs: Mapping[str, Any]) -> Outcome | None:
        """The first implementation that answers something other than ``None``."""
        self._count(hook)
        args = self.args_from(hook, kwargs)
        for impl in self._build_impls(hook):
            outcome = await self._invoke_async(hook, impl, args)
            if not outcome.ok or outcome.value is not None:
                return outcome
        return None

    def ask_sync(
        self,
        hook: str,
        kwargs: Mapping[str, Any],
        *,
        plugins: Iterable[str] | None = None,
        report: bool = True,
    ) -> list[Outcome]:
        """Call every synchronous implementation of a setup hook in turn (``validate_settings``,
        ``register_commands``); ``report=False`` only attributes failures (loading)."""
        self._count(hook)
        args = self.args_from(hook, kwargs)
        wanted = None if plugins is None else set(plugins)
        outcomes = []
        for impl in self._build_impls(hook):
            if wanted is not None and impl.plugin not in wanted:
                continue
            if impl.is_async:
                error = TypeError(f"{hook} must be a plain (not async) function")
                outcomes.append(self._failed(hook, impl.plugin, error, report=report))
                continue
            outcomes.append(self._invoke(hook, impl, args, report=report))
        return outcomes

    def invoke(
        self, plugin: str, hook: str, function: Callable[..., Any], *args: Any, report: bool = True
    ) -> Outcome:
        """Call one function of ``plugin`` for ``hook`` through the same path: for calls that
        are not a registered implementation (``declare_settings``, before registration)."""
        return self._invoke(hook, _Impl(plugin, function, None, False), args, report=report)

    async def invoke_async(
        self, plugin: str, hook: str, function: Callable[..., Any], *args: Any
    ) -> Outcome:
        """``invoke``, awaited within the hook's budget (a lifespan's start)."""
        impl = _Impl(plugin, function, None, inspect.iscoroutinefunction(function))
        return await self._invoke_async(hook, impl, args)

    # ---------------------------------------------------------------- failures, breaker

    def report_failure(self, plugin: str, hook: str, exc: BaseException) -> None:
        """Count, log and report a failure of ``plugin`` in ``hook`` (or a task it owns)."""
        count = self._failures.get(plugin, 0) + 1
        self._failures[plugin] = count
        self._failures_total[plugin] += 1
        if isinstance(exc, PluginOverrun):
            self._overruns[plugin] += 1
        paused = plugin in self._pause_at_first_failure
        limit = 1 if paused else self._max_failures
        disable = count >= limit and plugin not in self._disabled
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
        self._errors.append(error)
        del self._errors[:-MAX_ERRORS_KEPT]
        if disable:
            if paused:
                self.disable(plugin, f"paused after {type(exc).__name__} in {hook}: {exc}")
            else:
                self.disable(plugin, f"{count} failures in a row, last in {hook}")
        if hook != "on_plugin_error":
            self.notify("on_plugin_error", (self._ctx, error))

    def disable(self, plugin: str, reason: str) -> None:
        """Stop calling ``plugin``: its queued and future events are skipped."""
        if plugin in self._disabled:
            return
        self._disabled[plugin] = reason
        self.invalidate()
        logger.bind(plugin=plugin).error("plugin {!r} disabled: {}", plugin, reason)

    # ------------------------------------------------------------------------ shutdown

    async def drain(self, within: float, *, plugins: Iterable[str] | None = None) -> bool:
        """Wait until every queued notification (of ``plugins``, default all) is handled;
        False if time ran out."""
        wanted = None if plugins is None else set(plugins)
        pending = [q.join() for p, q in self._queues.items() if wanted is None or p in wanted]
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
            "plugin_errors": dict(self._failures_total),
            "plugin_overruns": dict(self._overruns),
            "plugin_calls": self.plugin_calls(),
            "dropped_events": dict(self._dropped),
            "disabled_plugins": dict(self._disabled),
            "held_dropped_events": dict(self._held_dropped),
        }


def call_in_frame(frame: FrameType) -> tuple[str, str] | None:
    """``(plugin, hook)`` if ``frame`` is the bus calling a plugin (``notify``, ``_invoke``,
    ``_invoke_async``), else ``None``.

    For the loop watchdog's sampler, which walks the loop thread's stack while the loop is
    blocked: the bus says which plugin it is in without recording anything per call."""
    names = _CALL_FRAMES.get(frame.f_code)
    if names is None:
        return None
    local = frame.f_locals
    hook = local.get("hook")
    if names == "impl":
        impl = local.get("impl")
        plugin = impl.plugin if isinstance(impl, _Impl) else None
    else:
        plugin = local.get("plugin")
    if isinstance(plugin, str) and isinstance(hook, str):
        return plugin, hook
    return None


# The bus's frames that call plugin code, and the local naming the plugin in each.
_CALL_FRAMES: dict[CodeType, str] = {
    HookBus.notify.__code__: "plugin",
    HookBus._invoke.__code__: "impl",
    HookBus._invoke_async.__code__: "impl",
}


class SlowCall(NamedTuple):
    """A synchronous plugin call that overran its hook's budget."""

    plugin: str
    hook: str
    seconds: float
    ended: float
    """``time.monotonic()`` when it returned."""


class PluginOverrun(TimeoutError):
    """A plugin took longer than its hook's time budget."""


def _overrun(elapsed: float, budget: float) -> PluginOverrun:
    return PluginOverrun(f"took {elapsed * 1000:.1f} ms, budget {budget * 1000:.0f} ms")
