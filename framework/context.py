"""The bot context handed to every hook: what a plugin may see and do."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

from loguru import logger

from framework.bus import HookBus
from framework.cache import AccountCache, AccountView
from framework.clock import Clock
from framework.errors import CacheWriteDenied
from framework.exchange import ExchangeConnector, ExchangeEndpoint, FrameTap
from framework.hooks import Hooks
from framework.intents import IntentBook
from framework.killswitch import KillSwitch
from framework.remote import RemoteControl
from framework.rules import SymbolRules
from framework.scheduler import Scheduler
from framework.settings import RiskLimits, Settings
from framework.state import (
    Attribution,
    StateStore,
    attribute,
    decode_state,
    encode_state,
)
from framework.strategy import (
    STRATEGY_PREFIX,
    StrategyOrders,
    declared_symbols,
    limits_in_force,
)
from framework.task_owner import owned_context
from framework.types import (
    CANDLE_INTERVALS,
    Candle,
    Freshness,
    Order,
    Tick,
)
from framework.watchdog import LoopLag

CACHE_WRITER = "cache_writer"  # the role that may write the account cache (``account_for``)
MAX_HISTORY = 10_000  # candles one ``history`` call may ask for


def roles_of(plugin: object) -> frozenset[str]:
    """The roles a plugin declares with its ``tradeloop_roles`` attribute (none by default)."""
    declared = getattr(plugin, "tradeloop_roles", ())
    if isinstance(declared, str):
        return frozenset({declared})
    return frozenset(r for r in declared if isinstance(r, str))


class BotContext:
    """Read access to the bot and the few actions a plugin may take."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        bus: HookBus,
        scheduler: Scheduler,
        plugin_configs: Mapping[str, Any],
        plugin_lookup: Callable[[str], object | None] = lambda name: None,
        plugin_name: Callable[[object], str | None] = lambda plugin: None,
        exchange_candidates: Sequence[str] = (),
        strategy_names: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.scheduler = scheduler
        self.last_ticks: dict[str, Tick] = {}  # the last tick emitted per symbol
        self.hooks = Hooks(bus, self, self.last_ticks)
        # The writable cache: handed only to cache writers (``account_for``) and the core.
        self._account = AccountCache(self.hooks, on_cursor=self.hooks.on_trade_cursor)
        self.cache: AccountView = self._account.view  # what every plugin reads
        self._plugin_name = plugin_name
        self._exchange_candidates = frozenset(exchange_candidates)
        self._exchange_provider: str | None = None
        self._exchange_asked = False
        self._cache_writers: dict[str, str] = {}  # plugin -> why it may write
        self._bus = bus
        self._plugin_configs = dict(plugin_configs)
        self._plugin_lookup = plugin_lookup
        self._exchange: ExchangeConnector | None = None
        self._endpoint: ExchangeEndpoint | None = None
        self._frame_taps: list[FrameTap] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_requested: asyncio.Event | None = None
        self.stop_reason = ""
        self._shutting_down = ""
        self.strategy_names = tuple(strategy_names)
        self._holds: dict[object, str] = {}
        self._order_apis: dict[str, StrategyOrders] = {}
        self._lost: dict[str, int] = {}
        self._loop_lag: Callable[[], LoopLag] | None = None
        self._rules: dict[str, SymbolRules] = {}
        self._rules_provider: str | None = None
        self.rules_published_at: float | None = None
        self.orders_in_flight: Counter[str] = Counter()  # symbol -> LIMIT orders being placed
        self._operator_pauses: dict[str, str] = {}  # strategy id -> why an operator paused it
        self._remote: RemoteControl | None = None
        self.intents = IntentBook(sleep=clock.sleep)
        self._state_provider = ""
        self._states: dict[str, dict[str, Any]] = {}
        self._states_loaded = False
        self._attribution = Attribution()
        self.state_store_used = False  # a store was published in this run (run summary)
        bus.pause_on_failure(self.strategy_names)
        # The account-level limits; the runtime starts it (reads its saved trip) and checks it.
        self.kill_switch: KillSwitch = KillSwitch(self)
        self.hooks.account_listener = self.kill_switch.account_changed

    @property
    def exchange(self) -> ExchangeConnector:
        """The exchange connector; ``RuntimeError`` if no plugin provided one."""
        if self._exchange is None:
            raise RuntimeError("no exchange connector: no plugin answered provide_exchange")
        return self._exchange

    @property
    def has_exchange(self) -> bool:
        """True once a connector was provided."""
        return self._exchange is not None

    def set_exchange(self, exchange: ExchangeConnector | None, provider: str | None) -> None:
        """Used by the runtime after ``provide_exchange`` (``provider``: who answered).

        From now on only ``provider`` writes the cache as the exchange's connector; another
        connector that took the writable cache before the answer is refused
        (``CacheWriteDenied``): its writes would mix a second account into this one.
        """
        self._exchange = exchange
        self._exchange_provider = provider
        self._exchange_asked = True
        for name, why in self._cache_writers.items():
            if why == "exchange" and name != provider:
                raise CacheWriteDenied(
                    name, "it took the cache as a connector but did not provide the exchange"
                )

    def account_for(self, plugin: object) -> AccountCache:
        """The writable account cache, for ``plugin`` (pass ``self``) if it is a cache writer.

        Cache writers are the plugin that provides the exchange (while ``provide_exchange``
        has not been asked yet: every plugin implementing it) and plugins declaring the role
        with the class attribute ``tradeloop_roles = frozenset({"cache_writer"})`` (the
        built-in reconciliation). Any other plugin reads ``ctx.cache``; asking raises
        ``CacheWriteDenied`` naming it. A guard against mistakes, not a sandbox.
        """
        name = self._plugin_name(plugin)
        if name is None:
            raise CacheWriteDenied(repr(plugin), "it is not a registered plugin")
        if CACHE_WRITER in roles_of(plugin):
            why = "role"
        elif name in self._exchange_candidates and (
            not self._exchange_asked or name == self._exchange_provider
        ):
            why = "exchange"
        else:
            provider = self._exchange_provider or "none yet"
            raise CacheWriteDenied(
                name,
                f"only the exchange's provider ({provider}) and plugins declaring "
                f"tradeloop_roles = {{{CACHE_WRITER!r}}} write it; read ctx.cache instead",
            )
        self._cache_writers.setdefault(name, why)
        return self._account

    @property
    def cache_writers(self) -> tuple[str, ...]:
        """The plugins that took the writable cache so far."""
        return tuple(self._cache_writers)

    @property
    def exchange_endpoint(self) -> ExchangeEndpoint | None:
        """The exchange a plugin published for the connector, or ``None`` (use settings)."""
        return self._endpoint

    def publish_exchange_endpoint(self, endpoint: ExchangeEndpoint | None) -> None:
        """Tell the connector where the exchange is (``None`` withdraws it, at stop).

        One plugin publishes at a time: ``RuntimeError`` if another one already did.
        """
        current = self._endpoint
        if endpoint is not None and current is not None and current.provider != endpoint.provider:
            raise RuntimeError(
                f"plugin {endpoint.provider!r} publishes an exchange endpoint, but plugin "
                f"{current.provider!r} already did"
            )
        self._endpoint = endpoint

    # ------------------------------------------------------------------------ rules

    def publish_rules(self, plugin: object, rules: Iterable[SymbolRules]) -> None:
        """Replace the exchange's symbol rules with ``rules`` (every listed symbol).

        The seam for the plugin that provides the exchange (pass ``self``): it publishes what
        the venue states at start, on its schedule and after the exchange refused an order for
        a filter. ``RuntimeError`` for any other plugin (the core never reads a venue itself).
        """
        name = self._plugin_name(plugin)
        allowed = name is not None and (
            name == self._exchange_provider
            or (name in self._exchange_candidates and not self._exchange_asked)
        )
        if not allowed:
            raise RuntimeError(
                f"plugin {name or plugin!r} may not publish exchange rules: only the plugin "
                "that provides the exchange does"
            )
        self._rules = {r.symbol: r for r in rules}
        self._rules_provider = name
        self.rules_published_at = self.clock.time()

    def rules(self, symbol: str) -> SymbolRules | None:
        """The exchange's rules of ``symbol`` (filters, leverage brackets), or ``None`` when
        the venue does not list it or no connector published rules (see ``rules_known``)."""
        return self._rules.get(symbol.upper())

    @property
    def rules_known(self) -> bool:
        """True once the exchange's connector published its rules."""
        return self._rules_provider is not None

    @property
    def frame_taps(self) -> tuple[FrameTap, ...]:
        """The taps registered for the connector's raw frames (``add_frame_tap``)."""
        return tuple(self._frame_taps)

    def add_frame_tap(self, tap: FrameTap) -> None:
        """Hand every raw frame the connector receives to ``tap`` too (``FrameTap``); call it
        in ``lifespan`` before the connector starts. ``remove_frame_tap`` at stop."""
        self._frame_taps.append(tap)

    def remove_frame_tap(self, tap: FrameTap) -> None:
        """Stop handing frames to ``tap`` in connectors started from now on."""
        if tap in self._frame_taps:
            self._frame_taps.remove(tap)

    def subscribed_symbols(self) -> tuple[str, ...]:
        """``exchange.symbols`` plus the symbols every enabled strategy instance trades.

        What a strategy trades is its ``symbols`` attribute plus ``params.symbol`` /
        ``params.symbols`` (``framework.strategy.declared_symbols``); connectors subscribe to
        exactly these. Upper-cased, first mention first, no repeats.
        """
        out: dict[str, None] = dict.fromkeys(s.upper() for s in self.settings.exchange.symbols)
        for strategy in self.settings.strategies:
            if not strategy.enabled:
                continue
            plugin = self.plugin(STRATEGY_PREFIX + strategy.id)
            for symbol in declared_symbols(strategy.params, plugin):
                out.setdefault(symbol, None)
        return tuple(out)

    async def history(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[Candle]:
        """The ``limit`` most recent candles of ``symbol``, oldest first, from the connector.

        ``interval`` is one of ``framework.types.CANDLE_INTERVALS`` and ``limit`` 1 to
        ``MAX_HISTORY`` (``ValueError`` otherwise). The last candle may still be forming
        (``closed`` false); fewer come back when the exchange has less history. The connector
        pages the requests within its rate-limit budget and raises its own errors (a
        ``TradeloopError``) when the exchange cannot answer; ``RuntimeError`` without one.
        """
        if interval not in CANDLE_INTERVALS:
            raise ValueError(f"interval {interval!r} is not one of {', '.join(CANDLE_INTERVALS)}")
        if not 1 <= limit <= MAX_HISTORY:
            raise ValueError(f"limit {limit} is not within 1..{MAX_HISTORY}")
        return await self.exchange.fetch_candles(symbol.upper(), interval, limit)

    def plugin_config(self, name: str) -> Any:
        """The validated settings block of plugin ``name`` (``None`` if it declares none)."""
        return self._plugin_configs.get(name)

    def plugin(self, name: str) -> object | None:
        """Another plugin's object by name (for example to read its stats), or ``None``."""
        return self._plugin_lookup(name)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str, owner: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the core owns: cancelled at shutdown, errors reported. In it
        (and the tasks it creates) ``framework.task_owner.task_owner()`` is ``owner``."""
        task = asyncio.get_running_loop().create_task(
            coro, name=f"{owner}:{name}", context=owned_context(owner)
        )
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, owner))
        return task

    def _task_done(self, task: asyncio.Task[Any], owner: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._bus.report_failure(owner, f"task {task.get_name()}", exc)

    async def cancel_tasks(self) -> None:
        """Cancel every spawned task and wait for them (shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        leftover = [t for t in tasks if not t.done()]
        if leftover:
            logger.warning("{} tasks did not finish after cancel", len(leftover))

    def freshness(self) -> Freshness:
        """How fresh the account cache is now: live from the user-data stream, or the age of
        the newest confirmed account state (degraded mode, a dropped stream)."""
        return self._account.freshness(self.clock.time())

    # ------------------------------------------------------------------- strategies

    def orders(self, strategy_id: str) -> StrategyOrders:
        """The order API of strategy instance ``strategy_id`` (its ids, its risk limits)."""
        api = self._order_apis.get(strategy_id)
        if api is None:
            name = STRATEGY_PREFIX + strategy_id
            if name not in self.strategy_names:
                raise KeyError(f"no strategy instance {strategy_id!r} is loaded")
            api = StrategyOrders(
                self, strategy_id, self._risk_limits(strategy_id), last_tick=self.last_ticks.get
            )
            self._order_apis[strategy_id] = api
        return api

    def _risk_limits(self, strategy_id: str) -> RiskLimits:
        configured = next(s.risk for s in self.settings.strategies if s.id == strategy_id)
        return limits_in_force(configured, self.plugin(STRATEGY_PREFIX + strategy_id))

    def strategy_paused(self, strategy_id: str) -> str:
        """Why the instance is paused (it raised, or an operator paused it), ``""`` while it
        runs."""
        error = self._bus.disabled.get(STRATEGY_PREFIX + strategy_id, "")
        return error or self._operator_pauses.get(strategy_id, "")

    def strategy_paused_by(self, strategy_id: str) -> str:
        """``"error"`` (it raised: stopped for the rest of the run), ``"operator"`` (until
        ``resume_strategy``), or ``""`` while it runs."""
        if self._bus.is_disabled(STRATEGY_PREFIX + strategy_id):
            return "error"
        return "operator" if strategy_id in self._operator_pauses else ""

    def pause_strategy(self, strategy_id: str, reason: str) -> bool:
        """Pause one instance for an operator: it gets no ``on_tick`` and its new orders are
        refused (``StrategyPaused``); its account notifications (fills, order updates) still
        arrive, and it may cancel. ``KeyError`` for an unknown instance; False if it was
        paused already (by an operator or by an error)."""
        name = self._strategy_name(strategy_id)
        if self.strategy_paused(strategy_id):
            return False
        self._operator_pauses[strategy_id] = f"paused by operator: {reason}"
        self._bus.mute([name])
        logger.bind(plugin=name).warning("strategy {!r} paused: {}", strategy_id, reason)
        return True

    def resume_strategy(self, strategy_id: str) -> bool:
        """Undo ``pause_strategy``. False if the operator had not paused it. An instance paused
        by an error stays paused (``RuntimeError``): it missed notifications and its state
        cannot be trusted; restart the bot to run it again."""
        name = self._strategy_name(strategy_id)
        if self._bus.is_disabled(name):
            raise RuntimeError(
                f"strategy {strategy_id!r} was paused by an error "
                f"({self._bus.disabled[name]}); restart the bot to run it again"
            )
        if self._operator_pauses.pop(strategy_id, None) is None:
            return False
        self._bus.unmute([name])
        logger.bind(plugin=name).warning("strategy {!r} resumed by operator", strategy_id)
        return True

    def _strategy_name(self, strategy_id: str) -> str:
        name = STRATEGY_PREFIX + strategy_id
        if name not in self.strategy_names:
            raise KeyError(f"no strategy instance {strategy_id!r} is loaded")
        return name

    def strategy_stats(self) -> dict[str, Any]:
        """Per instance: running or paused (``paused_by`` ``operator`` or ``error``, and
        why), and its order counters."""
        out: dict[str, Any] = {}
        for name in self.strategy_names:
            sid = name.removeprefix(STRATEGY_PREFIX)
            paused = self.strategy_paused(sid)
            api = self._order_apis.get(sid)
            out[sid] = {
                "state": "paused" if paused else "running",
                "paused_by": self.strategy_paused_by(sid),
                "reason": paused,
                "orders": dict(api.stats) if api is not None else {},
            }
        return out

    def remote_control(self) -> RemoteControl:
        """The operator command layer every front end (HTTP, Telegram) shares."""
        if self._remote is None:
            self._remote = RemoteControl(self)
        return self._remote

    # ------------------------------------------------------------ state and intents

    def publish_state_store(self, store: StateStore | None, provider: str) -> None:
        """Make ``store`` where strategy state and order intents are kept (``None``
        withdraws it, at stop). One plugin at a time; it must start before the strategies.
        """
        if store is not None and self._state_provider and self._state_provider != provider:
            raise RuntimeError(
                f"plugin {provider!r} publishes a state store, but plugin "
                f"{self._state_provider!r} already did"
            )
        self.intents.store = store
        self._state_provider = provider if store is not None else ""
        self.state_store_used = self.state_store_used or store is not None

    @property
    def state_persistent(self) -> bool:
        """True while a state store keeps strategy state and intents across restarts."""
        return self.intents.store is not None

    async def load_strategy_states(self) -> None:
        """Read every saved strategy state (the runtime calls it before strategies start)."""
        if self._states_loaded:
            return
        self._states_loaded = True
        store = self.intents.store
        if store is None:
            if self.strategy_names:
                logger.warning(
                    "no state store (the journal is off, or plugins.journal.strategy_state is "
                    "false): strategy state and order "
                    "intents are kept in memory for this run only, not across restarts"
                )
            return
        self._states = await store.load_states()
        if self._states:
            logger.info(
                "strategy state loaded from {}: {}", store.location, ", ".join(sorted(self._states))
            )

    def strategy_state(self, strategy_id: str) -> dict[str, Any]:
        """A copy of the state instance ``strategy_id`` saved last (``{}`` if none)."""
        return dict(self._states.get(strategy_id, {}))

    async def save_strategy_state(self, strategy_id: str, state: Mapping[str, Any]) -> None:
        """Save ``state`` for ``strategy_id``: durable in the state store when this returns,
        in memory for this run without one. ``ValueError`` if it is not a JSON object."""
        data = encode_state(strategy_id, state)
        store = self.intents.store
        if store is not None:
            await store.save_state(strategy_id, data, int(self.clock.time() * 1000))
        self._states[strategy_id] = decode_state(data)

    async def attributed_positions(self) -> Attribution:
        """Net positions per strategy instance and symbol, from every fill the state store
        holds (this run's and earlier runs'), each owned by the instance whose client order id
        its order carries; ``"-"`` for the rest. Without a store or exchange: empty."""
        store = self.intents.store
        if store is None or self._exchange is None:
            return self._attribution
        self._attribution = attribute(await store.owned_fills(), self._exchange.owner_of)
        return self._attribution

    @property
    def last_attribution(self) -> Attribution:
        """The attribution as ``attributed_positions`` last computed it."""
        return self._attribution

    def apply_order_answer(self, order: Order) -> None:
        """Used by the core: an order the exchange answered with goes to the cache (ordered
        by event time like every update)."""
        try:
            self._account.apply_order(order)
        except Exception as exc:  # noqa: BLE001 - reconciliation repairs the cache
            logger.opt(exception=exc).error("order answer could not be applied: {!r}", exc)

    # ------------------------------------------------------------------------ holds

    def hold_strategies(self, reason: str) -> Callable[[], None]:
        """Hold every strategy until the returned function is called (idempotent).

        While any hold is active, strategies get no ``on_tick``; their other notifications
        are kept and delivered in order on release, and the order API refuses new orders.
        The core holds strategies during startup; reconciliation holds them until the cache
        has been checked against the exchange (at start and after every stream resync).
        """
        token = object()
        self._holds[token] = reason
        if len(self._holds) == 1:
            self._bus.hold(self.strategy_names)
            logger.info("strategies held: {}", reason)

        def release() -> None:
            if self._holds.pop(token, None) is None:
                return
            if not self._holds:
                self._bus.release(self.strategy_names)
                logger.info("strategies released ({} done)", reason)

        return release

    @property
    def trading_held(self) -> str:
        """Why strategies are held (reasons joined), or ``""`` when they may trade."""
        return "; ".join(dict.fromkeys(self._holds.values()))

    @property
    def shutting_down(self) -> str:
        """Why the bot is shutting down, or ``""`` while it runs. Set as soon as a stop is
        asked for (``request_stop``) or begins; from then on strategies may cancel and send
        reduce-only orders, never a new one that adds risk (``ShuttingDown``)."""
        return self._shutting_down

    def begin_shutdown(self, reason: str) -> None:
        """Used by the runtime: the shutdown has begun (keeps the first reason)."""
        if not self._shutting_down:
            self._shutting_down = reason or "stopping"
            logger.info("shutting down ({}): strategies' new orders are refused", reason)

    def request_stop(self, reason: str) -> None:
        """Ask the bot to shut down gracefully; strategies' new orders are refused from now."""
        if not self.stop_reason:
            self.stop_reason = reason
        self.begin_shutdown(reason)
        if self._stop_requested is not None:
            self._stop_requested.set()

    def report_lost_records(self, plugin: str, count: int) -> None:
        """``plugin`` accepted ``count`` records in this run that it could not keep (its
        total so far, not an increment). They are listed in the run summary's
        ``lost_records`` and make ``tradeloop run`` exit 3."""
        if count > 0:
            self._lost[plugin] = count
        else:
            self._lost.pop(plugin, None)

    def lost_records(self) -> dict[str, int]:
        """Records lost per plugin (see ``report_lost_records``)."""
        return dict(self._lost)

    def bind_stop_event(self, event: asyncio.Event) -> None:
        """Used by the runtime: ``request_stop`` sets this event."""
        self._stop_requested = event
        if self.stop_reason:
            event.set()

    def bind_loop_watchdog(self, snapshot: Callable[[], LoopLag]) -> None:
        """Used by the runtime: where ``loop_lag`` reads the watchdog's measurements."""
        self._loop_lag = snapshot

    def loop_lag(self) -> LoopLag | None:
        """The core loop watchdog's measurements now (lag, stalls), or ``None`` outside a
        running bot. Read-only: a snapshot."""
        return self._loop_lag() if self._loop_lag is not None else None

    def stats(self) -> dict[str, Any]:
        """Hook counters, calls, failures and overruns per plugin, dropped events, disabled
        plugins (``HookBus.stats``)."""
        return self._bus.stats()

    def hook_implementers(self, hook: str) -> tuple[str, ...]:
        """The plugins that implement ``hook`` (disabled ones too)."""
        return self._bus.implementers(hook)

    def plugin_names(self) -> tuple[str, ...]:
        """Every loaded plugin's name (strategies included, disabled ones too)."""
        return self._bus.plugins()
