"""The hook contract between the core and every plugin.

Each hookspec's docstring is its contract: when it is called, its arguments, its time budget
(``hooks.timeouts.<name>`` in settings) and what happens on error. Implementations take any
subset of the arguments, by name. Do not give hook parameters default values.

Two families:

* ``on_*`` hooks are **notifications**. The core never waits for them: a synchronous
  implementation runs at once, an ``async def`` one is queued to that plugin's own worker.
  Results are ignored. An exception or an overrun of the time budget is logged, reported through
  ``on_plugin_error`` and counted; ``hooks.max_failures`` failures in a row disable the plugin.
* The other hooks are **questions** whose answers the core uses. They are called one plugin at a
  time, awaited under the time budget, and failures are attributed to the plugin.

**Whole events.** The account hooks (``on_balance_update``, ``on_position_update``,
``on_order_update``, ``on_fill``) fire only after every entry of the exchange event that caused
them is in the cache: an ``ACCOUNT_UPDATE``'s balances and positions, an
``ORDER_TRADE_UPDATE``'s order and its trade. A plugin reading ``ctx.cache`` from inside any of
them sees the whole event, never the new position beside the old balance. The hooks of one
event then fire in the order its entries were applied (balances, then positions; the order,
then its fill).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import pluggy

PROJECT = "tradeloop"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

if TYPE_CHECKING:
    from framework.commands import Command
    from framework.context import BotContext
    from framework.exchange import ExchangeConnector
    from framework.settings import Settings
    from framework.types import (
        Alert,
        Balance,
        CommandRecord,
        DailyReport,
        DegradedStatus,
        ExchangeCheck,
        Fill,
        Job,
        KillSwitchResume,
        KillSwitchTrip,
        Order,
        PluginError,
        Position,
        ReconcileResult,
        StreamStatus,
        Tick,
        TradeCursors,
    )


# --------------------------------------------------------------------------- setup questions


@hookspec
def declare_settings() -> type | None:
    """Declare the schema of this plugin's own settings block, ``plugins.<name>``.

    Called: once, right after the plugin is imported and **before** it is instantiated, so on a
    class plugin implement it as a ``@staticmethod``. Disabled plugins are never imported, so
    never asked.
    Returns: a ``msgspec.Struct`` (or dataclass) type whose fields, with defaults, are the keys
    of the block besides ``enabled`` and ``required``. The validated instance is what a class
    plugin's constructor receives. A plugin without this hook accepts no keys of its own.
    Errors: a bad value or an unknown key exits with code 2 naming the key.
    Budget: synchronous, must not do I/O.
    """


@hookspec
def validate_settings(settings: Settings) -> None:
    """Check settings that span sections (for example ``exchange`` against ``sim``).

    Called: at startup and by ``tradeloop check``, after every enabled plugin is loaded.
    :param settings: the validated core settings.
    Errors: raise ``framework.SettingsError(key, value, allowed)``; the process exits with
    code 2 and that one line. Any other exception is a plugin load error (exit 2).
    Budget: synchronous, must not do I/O.
    """


@hookspec
def register_commands() -> Sequence[Command] | None:
    """Add sub-commands to the ``tradeloop`` CLI (for example ``tradeloop sim``).

    Called: once when the CLI starts, after plugins are loaded.
    Returns: ``framework.Command`` objects; a name already taken is a load error (exit 2).
    Budget: synchronous, must not do I/O.
    """


@hookspec
def lifespan(ctx: BotContext) -> AbstractAsyncContextManager[None] | None:
    """Start and stop a plugin, as one async context manager.

    Called: once at startup, one plugin at a time in load order (built-ins, then third-party
    plugins, then strategies); the code before ``yield`` is the start, the code after it the
    stop. At shutdown the core first stops jobs and cancels ``ctx.spawn`` tasks, then hands
    every queued notification to its plugin, then runs the stops one at a time in reverse
    start order, only for plugins whose start finished; a plugin's queued notifications are
    delivered before its own stop runs.
    :param ctx: the bot context.
    Budget: ``hooks.timeouts.lifespan`` (30 s) for the start. Each stop gets its own share of
    ``runtime.shutdown_timeout``: what is left of it, except a reserve for every stop still to
    run (half the budget split evenly over all plugins).
    Errors: a failing start aborts startup (exit 1) after stopping what had started. A stop
    that raises or overruns its share is logged, reported through ``on_plugin_error`` and cut
    off (cancelled; it gets 0.25 s to finish, then is left behind); every other plugin still
    stops, and the failures are logged together and listed in the run summary's
    ``stop_failures``. A stop must let a cancellation through (``framework.cancel_and_wait``
    awaits a task without swallowing it). Background work belongs in ``ctx.spawn(...)``.
    """


@hookspec
def register_jobs(ctx: BotContext) -> Sequence[Job] | None:
    """Register scheduled jobs with the core's scheduler.

    Called: once at startup, after every ``lifespan`` has started.
    :param ctx: the bot context.
    Returns: ``IntervalJob`` / ``DailyJob`` objects. Job names are prefixed with the plugin name.
    A job never overlaps itself; its exceptions are logged and it keeps its schedule.
    Budget: ``hooks.timeouts.register_jobs``; an error aborts startup (exit 1).
    """


@hookspec(firstresult=True)
def provide_exchange(ctx: BotContext) -> ExchangeConnector | None:
    """Provide the exchange connector the bot trades through.

    Called: once at startup, after ``lifespan`` and before ``register_jobs``; the first
    non-``None`` answer wins (built-in connectors use ``trylast`` so others can replace them).
    :param ctx: the bot context.
    Returns: an object implementing ``framework.ExchangeConnector``, or ``None`` to pass.
    Budget: ``hooks.timeouts.provide_exchange``; an error aborts startup (exit 1).
    """


@hookspec(firstresult=True)
def check_exchange(ctx: BotContext) -> Awaitable[ExchangeCheck] | ExchangeCheck | None:
    """Check the configured exchange with read-only calls, placing nothing
    (``tradeloop check --exchange``).

    Called: only by ``tradeloop check --exchange``, with nothing started but the plugins that
    declare ``tradeloop_roles = {"exchange_endpoint"}`` (they publish where the exchange is,
    like the ``sim`` plugin); the first answer wins. The built-in connector reads the server
    time and clock skew, the account and the strategies' symbols.
    :param ctx: the bot context (``ctx.exchange_endpoint`` is published; no exchange yet).
    Returns: ``framework.ExchangeCheck`` (``async def`` allowed), or ``None`` to pass.
    Budget: ``hooks.timeouts.check_exchange``.
    """


@hookspec
def last_trade_ids(ctx: BotContext) -> Mapping[str, int] | TradeCursors | None:
    """What this plugin recorded durably of the account's trades in earlier runs (a journal):
    per symbol, the trade id through which it holds every trade (its trade cursor).

    Called: once at startup, after every ``lifespan`` has started and before
    ``provide_exchange``. The core gives each symbol's smallest answer to the account cache as
    its trade cursor (``AccountCache.set_trade_cursor``), so reconciliation's trade sweep reads
    and records the trades made after it (while the bot was down, or recorded by the cache but
    not by this plugin before a crash) as fills (``on_fill``) at the startup reconcile: a
    recorder ends with every trade once (it ignores a trade it holds).

    Answer the highest trade id you hold only if you hold every trade before it. A
    ``framework.TradeCursors`` says more: ``since`` (from when you recorded the account: a
    symbol without a cursor has its trades from then on read back, not taken as history) and
    ``held`` (the trades you hold after your cursors: the cache counts them as known, so they
    are not announced again). Keep your cursor with ``on_trade_cursor``.
    :param ctx: the bot context.
    Returns: ``{symbol: trade id}``, a ``TradeCursors``, or ``None`` (or ``{}``) when the
    plugin keeps no trades.
    Budget: ``hooks.timeouts.last_trade_ids`` (5 s; may be ``async``). Errors: logged and
    reported; the bot starts without that answer (trades made while it was down are then
    history, not recorded).
    """


@hookspec(firstresult=True)
def reconcile_now(ctx: BotContext, reason: str) -> ReconcileResult | None:
    """Reconcile the cache with the exchange now and answer the result (the operator's
    ``reconcile`` command).

    Called: by the core's command layer (``framework.remote``), only on an operator's
    request; the first non-``None`` answer wins (the built-in reconciliation answers).
    :param ctx: the bot context. :param reason: why (``manual: <who>``), kept in the result.
    Returns: the ``ReconcileResult`` of a run that started after the call (a run under way
    is finished first), or ``None`` to pass.
    Budget: ``hooks.timeouts.reconcile_now`` (120 s). Errors: attributed to the plugin; the
    command answers that the reconcile failed.
    """


@hookspec
def warm_up(ctx: BotContext) -> None:
    """Prepare what needs the exchange before the first tick, e.g. fill an indicator from
    recent candles (``await ctx.history(symbol, "1m", 200)``).

    Called: once at startup, after ``provide_exchange`` and ``register_jobs`` and before the
    strategies are released, so no ``on_tick`` reaches a strategy before its ``warm_up`` has
    finished. One plugin at a time, in load order; ``ctx.has_exchange`` may be false.
    :param ctx: the bot context.
    Budget: ``hooks.timeouts.warm_up`` (30 s; may be ``async``). Errors: logged and reported
    (``on_plugin_error``; a strategy that raises is paused, like in any hook); the bot starts
    anyway. Catch the exchange's own errors (``TradeloopError``) to start cold instead.
    """


@hookspec
def summarize_run(ctx: BotContext) -> Mapping[str, Any] | None:
    """Contribute sections to the run summary (``tradeloop run --summary PATH``).

    Called: once at shutdown, after every plugin stopped (so a stop's work, such as the
    records a journal could not write, is counted); answer from counters kept after stop.
    :param ctx: the bot context.
    Returns: a JSON-serialisable mapping merged into the summary (top-level keys should be
    the plugin's own, e.g. ``reconcile``). Budget: ``hooks.timeouts.summarize_run``.
    Errors: logged and reported; the summary is written without that plugin's part.
    """


# ------------------------------------------------------------------------------ notifications


@hookspec
def on_tick(ctx: BotContext, tick: Tick) -> None:
    """A market tick (best bid/ask) arrived for a subscribed symbol.

    Called: by the exchange connector, for every fresh tick, in arrival order per plugin. A
    tick whose ``event_time`` is more than ``runtime.max_tick_age`` behind the bot's clock (it
    waited out a blocked loop) is dropped and counted, never delivered.
    :param ctx: the bot context. :param tick: the ``Tick``.
    Budget: ``hooks.timeouts.on_tick`` (50 ms). Hot path: keep synchronous work tiny.
    Errors: isolated per plugin (see the module docstring).
    """


@hookspec
def on_balance_update(ctx: BotContext, before: Balance | None, after: Balance) -> None:
    """The cache's balance of one asset changed.

    Called: by the account cache after it applied a stream update or a reconcile repair.
    :param before: the entry before the change, ``None`` if the asset was new.
    :param after: the entry now in the cache.
    Budget: ``hooks.timeouts.on_balance_update`` (1 s). Errors: isolated per plugin.
    """


@hookspec
def on_position_update(ctx: BotContext, before: Position | None, after: Position) -> None:
    """The cache's position for one (symbol, side) changed.

    Called: by the account cache after it applied a stream update or a reconcile repair.
    :param before: the entry before, ``None`` if new. :param after: the entry now (amount 0
    means closed). Budget: ``hooks.timeouts.on_position_update`` (1 s). Errors: isolated.
    """


@hookspec
def on_order_update(ctx: BotContext, before: Order | None, after: Order) -> None:
    """An order changed state (new, partially filled, filled, canceled, expired, ...).

    Called: by the account cache after it applied a stream update or a reconcile repair.
    :param before: the order before, ``None`` if new. :param after: the order now.
    Budget: ``hooks.timeouts.on_order_update`` (1 s). Errors: isolated per plugin.
    """


@hookspec
def on_fill(ctx: BotContext, fill: Fill) -> None:
    """An order traded. Each (symbol, order_id, trade_id) is delivered once.

    Called: by the account cache when an execution report carries a new trade, or when
    reconciliation reads back a trade the stream lost or one made while the bot was down
    (then ``client_order_id`` is empty if the cache never knew the order).
    :param fill: the ``Fill``. Budget: ``hooks.timeouts.on_fill`` (1 s). Errors: isolated.
    """


@hookspec
def on_trade_cursor(ctx: BotContext, symbol: str, trade_id: int) -> None:
    """Every trade of ``symbol`` up to ``trade_id`` is in the account cache: announced with
    ``on_fill`` before this (or history from before the bot watched the account).

    Called: by the account cache when its trade cursor moves on: after reconciliation swept
    the account's trade list, and at startup when the core seeds it (``last_trade_ids``). A
    plugin that recorded every ``on_fill`` it got keeps this as the cursor it answers at the
    next start, so a fill it did not record before a crash is read back then.
    :param symbol: the symbol. :param trade_id: the cursor (it never moves back).
    Budget: ``hooks.timeouts.on_trade_cursor`` (1 s). Errors: isolated per plugin.
    """


@hookspec
def on_reconcile_result(ctx: BotContext, result: ReconcileResult) -> None:
    """Reconciliation compared the cache with the exchange's REST snapshot.

    Called: by the reconciliation plugin after every run (startup, after reconnects, every
    ``plugins.reconciliation.interval`` seconds). :param result: status, mismatches, repairs.
    Budget: ``hooks.timeouts.on_reconcile_result`` (2 s). Errors: isolated per plugin.
    """


@hookspec
def on_stream_state(ctx: BotContext, status: StreamStatus) -> None:
    """An exchange stream connected, disconnected, went stale, or was resynced.

    Called: by the exchange connector (connected, disconnected, stale) and by reconciliation
    (resynced). ``status.needs_resync`` is True after a reconnect or listenKey renewal: the
    cache may have missed events until a reconcile runs.
    Budget: ``hooks.timeouts.on_stream_state`` (1 s). Errors: isolated per plugin.
    """


@hookspec
def on_degraded(ctx: BotContext, status: DegradedStatus) -> None:
    """Degraded mode began or ended: the user-data stream is down, stale or silent and the
    account cache follows REST polls, until the stream is back and resynced.

    Called: by the reconciliation plugin, once when it begins (``status.active``, ``reason``)
    and once when it ends (``seconds``, ``polls``, ``weight``). Read ``ctx.freshness()`` for
    the cache's age at any time.
    Budget: ``hooks.timeouts.on_degraded`` (1 s). Errors: isolated per plugin.
    """


@hookspec
def on_daily_report(ctx: BotContext, report: DailyReport) -> None:
    """A daily report was written; delivery plugins send it on.

    Called: by the daily report plugin, once per report. :param report: day, files, figures.
    Budget: ``hooks.timeouts.on_daily_report`` (30 s). Errors: isolated per plugin.
    """


@hookspec
def on_command(ctx: BotContext, record: CommandRecord) -> None:
    """An operator command was handled (or refused): who sent it and what it did.

    Called: by the core's command layer after every command from a front end (HTTP, Telegram),
    malformed ones included. :param record: the ``CommandRecord`` (never carries a secret).
    Budget: ``hooks.timeouts.on_command`` (1 s). Errors: isolated per plugin.
    """


@hookspec
def on_alert(ctx: BotContext, alert: Alert) -> None:
    """Something an operator should hear about at once (an exchange refusing an order, a
    rate-limit ban); the webhook plugin pushes alerts, aggregated and rate limited.

    Called: by the core (``order_refused``: the exchange refused a strategy's order) and by
    the connector (``rate_limited``: a 429/418 stopped REST requests). Alerts that other hooks
    already say (drift, streams, plugin errors, the kill switch) are derived from those hooks
    by the alerting plugin, not emitted again. :param alert: the ``Alert``.
    Budget: ``hooks.timeouts.on_alert`` (1 s). Errors: isolated per plugin.
    """


@hookspec
def on_plugin_error(ctx: BotContext, error: PluginError) -> None:
    """A plugin raised or overran its budget in a hook (``error.disabled`` if it was disabled).

    Called: by the core after every such failure. Failures of this hook itself are only
    logged, never reported again. Budget: ``hooks.timeouts.on_plugin_error`` (1 s).
    """


@hookspec
def on_kill_switch(ctx: BotContext, trip: KillSwitchTrip) -> None:
    """The kill switch tripped: an account-level limit of ``kill_switch`` was reached.

    Called: by the core once per trip, after its actions ran. By then every strategy is held
    (until ``tradeloop resume``), open orders were cancelled and, with
    ``kill_switch.close_positions``, positions closed. :param trip: the limit, the measured
    value, its threshold, the time and ``actions`` (what was done, one line each, failures
    included). Not called again for a trip that survived a restart (read
    ``ctx.kill_switch.trip``). Budget: ``hooks.timeouts.on_kill_switch`` (1 s). Errors:
    isolated per plugin.
    """


@hookspec
def on_kill_switch_resume(ctx: BotContext, resume: KillSwitchResume) -> None:
    """A tripped kill switch was cleared: strategies trade again.

    Called: by the core when a running bot clears its trip (``ctx.kill_switch.resume``) or
    notices that ``tradeloop resume`` cleared the saved one, and, for a ``tradeloop resume``
    run while no bot ran, by the next bot once its plugins started (before the strategies are
    released). A bot killed before it saved that it announced the clearing announces it again
    at its next start (the same ``resume``, so a recorder can ignore the copy).
    :param resume: the trip cleared, when and by whom.
    Budget: ``hooks.timeouts.on_kill_switch_resume`` (1 s). Errors: isolated per plugin.
    """
