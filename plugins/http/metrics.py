"""``/metrics``: a prometheus-client collector that reads the bot's state at scrape time.

Nothing is counted on the hot path: every value is read, when Prometheus scrapes, from the
cache, the core's counters, the connector's ``stats()``, the governor, the reconciliation
plugin and what this plugin's own (non-tick) hooks recorded. Names follow Prometheus
conventions (``_total`` counters, ``_seconds`` durations); ``docs/operations.md`` lists each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from framework import BotContext

from .sources import connector_stats, equity, governor, reconciliation, unrealized
from .state import Observed

P = "tradeloop_"
STREAM_COUNTERS = ("connects", "reconnects", "stale", "disconnects", "connect_failures")
EVENT_KINDS = (
    "ticks",
    "account_updates",
    "order_updates",
    "fills",
    "listen_key_expired",
    "ignored",
    "malformed",
    "unknown",
    "dispatch_errors",
)
REST_COUNTERS = ("requests", "retries", "errors", "throttled", "http_429", "http_418", "refused")
ORDER_COUNTERS = ("placed", "refused", "failed", "canceled")
GOVERNOR_STATES = ("ok", "slowed", "banned")


def _counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(P + name, doc, labels=list(labels))


def _gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(P + name, doc, labels=list(labels))


class BotCollector(Collector):
    """Every tradeloop metric, computed from the bot's state when collected."""

    def __init__(
        self,
        ctx: BotContext,
        observed: Observed,
        *,
        healthy: Callable[[], bool],
        ready: Callable[[], bool],
    ) -> None:
        self.ctx = ctx
        self.observed = observed
        self._healthy = healthy
        self._ready = ready

    def collect(self) -> Iterator[Metric]:
        """One scrape's metric families."""
        now = self.ctx.clock.time()
        stats = connector_stats(self.ctx)
        yield from self._bot()
        yield from self._loop()
        yield from self._streams(stats, now)
        yield from self._events(stats)
        yield from self._rest(stats)
        yield from self._reconcile(now)
        yield from self._plugins()
        yield from self._orders()
        yield from self._account()

    def _bot(self) -> Iterator[Metric]:
        g = _gauge("healthy", "1 when /health answers 200.")
        g.add_metric([], 1.0 if self._healthy() else 0.0)
        yield g
        g = _gauge("ready", "1 when /ready answers 200.")
        g.add_metric([], 1.0 if self._ready() else 0.0)
        yield g

    def _loop(self) -> Iterator[Metric]:
        lag = self.ctx.loop_lag()
        if lag is None:
            return
        g = _gauge("event_loop_lag_seconds", "How late the loop watchdog's last wakeup was.")
        g.add_metric([], lag.current)
        yield g
        g = _gauge("event_loop_lag_max_seconds", "The latest loop watchdog wakeup so far.")
        g.add_metric([], lag.max)
        yield g
        c = _counter("event_loop_stalls", "Loop stalls of runtime.loop_stall_warning or more.")
        c.add_metric([], float(lag.stalls))
        yield c
        c = _counter("event_loop_stalled_seconds", "Seconds the loop lost to stalls.")
        c.add_metric([], lag.stalled)
        yield c
        g = _gauge("event_loop_longest_stall_seconds", "The longest loop stall so far.")
        g.add_metric([], lag.longest_stall)
        yield g

    def _streams(self, stats: Mapping[str, Any], now: float) -> Iterator[Metric]:
        up = _gauge("stream_up", "1 while the stream is connected.", ("stream",))
        since = _gauge(
            "stream_state_seconds", "Seconds since the stream went up or down.", ("stream",)
        )
        for name, track in sorted(self.observed.streams.items()):
            up.add_metric([name], 1.0 if track.up else 0.0)
            since.add_metric([name], max(0.0, now - track.since))
        yield up
        yield since
        by_stream: Mapping[str, Mapping[str, int]] = stats.get("stream", {}).get("by_stream", {})
        for key in STREAM_COUNTERS:
            c = _counter(f"stream_{key}", f"Stream {key.replace('_', ' ')} so far.", ("stream",))
            for name, counts in sorted(by_stream.items()):
                c.add_metric([name], float(counts.get(key, 0)))
            yield c
        age = _gauge(
            "tick_age_seconds",
            "Seconds between now and the event time of the symbol's last tick.",
            ("symbol",),
        )
        for symbol, tick in sorted(self.ctx.last_ticks.items()):
            age.add_metric([symbol], max(0.0, now - tick.event_time / 1000))
        yield age

    def _events(self, stats: Mapping[str, Any]) -> Iterator[Metric]:
        events: Mapping[str, int] = stats.get("events", {})
        c = _counter("stream_messages", "Stream messages by kind.", ("kind",))
        for kind in EVENT_KINDS:
            if kind in events:
                c.add_metric([kind], float(events[kind]))
        yield c

    def _rest(self, stats: Mapping[str, Any]) -> Iterator[Metric]:
        rest: Mapping[str, Any] = stats.get("rest", {})
        for key in REST_COUNTERS:
            if key in rest:
                c = _counter(f"rest_{key}", f"REST {key.replace('_', ' ')} so far.")
                c.add_metric([], float(rest[key]))
                yield c
        gov = governor(self.ctx)
        if gov is None:
            return
        used, limit, state = gov
        g = _gauge("rest_weight_used", "REST request weight used in the current minute.")
        g.add_metric([], float(used))
        yield g
        g = _gauge("rest_weight_limit", "REST request weight allowed per minute.")
        g.add_metric([], float(limit))
        yield g
        g = _gauge("rest_governor_state", "1 for the governor's current state.", ("state",))
        for name in GOVERNOR_STATES:
            g.add_metric([name], 1.0 if name == state else 0.0)
        yield g

    def _reconcile(self, now: float) -> Iterator[Metric]:
        seen = self.observed
        found = _counter("drift_found", "Differences found by reconciliation.", ("kind",))
        for kind, n in sorted(seen.drift_found.items()):
            found.add_metric([kind], float(n))
        yield found
        fixed = _counter("drift_repaired", "Differences repaired in the cache.", ("kind",))
        for kind, n in sorted(seen.drift_repaired.items()):
            fixed.add_metric([kind], float(n))
        yield fixed
        s = SummaryMetricFamily(
            P + "reconcile_duration_seconds",
            "Duration of reconcile runs.",
            count_value=seen.reconcile_runs,
            sum_value=seen.reconcile_seconds,
        )
        yield s
        recon = reconciliation(self.ctx)
        if recon is None:
            return
        metrics = recon[0]
        c = _counter("reconcile_runs", "Reconcile runs.")
        c.add_metric([], float(metrics.get("runs", 0)))
        yield c
        c = _counter("reconcile_errors", "Reconcile runs that failed.")
        c.add_metric([], float(metrics.get("errors", 0)))
        yield c
        last_good = metrics.get("last_good_at")
        if last_good is not None:
            g = _gauge("reconcile_last_good_age_seconds", "Seconds since the last good reconcile.")
            g.add_metric([], max(0.0, now - float(last_good)))
            yield g

    def _plugins(self) -> Iterator[Metric]:
        stats = self.ctx.stats()
        calls = _counter("hook_calls", "Notifications and asks per hook.", ("hook",))
        for hook, n in sorted(stats.get("hooks", {}).items()):
            calls.add_metric([hook], float(n))
        yield calls
        names = sorted(set(self.ctx.plugin_names()) | set(stats.get("plugin_errors", {})))
        per_hook = _counter(
            "plugin_hook_calls", "Calls of each plugin per hook.", ("plugin", "hook")
        )
        for plugin, hooks in sorted(stats.get("plugin_calls", {}).items()):
            for hook, n in sorted(hooks.items()):
                per_hook.add_metric([plugin, hook], float(n))
        yield per_hook
        for key, name, doc in (
            (
                "plugin_errors",
                "plugin_failures",
                "Hook failures of each plugin, overruns included.",
            ),
            ("plugin_overruns", "plugin_overruns", "Calls that overran their hook's time budget."),
            ("dropped_events", "plugin_dropped_events", "Notifications dropped (queue full)."),
        ):
            family = _counter(name, doc, ("plugin",))
            counts: Mapping[str, int] = stats.get(key, {})
            for plugin in names:
                family.add_metric([plugin], float(counts.get(plugin, 0)))
            yield family
        off: Mapping[str, str] = stats.get("disabled_plugins", {})
        disabled = _gauge("plugin_disabled", "1 for a disabled plugin, 0 otherwise.", ("plugin",))
        for plugin in sorted(set(names) | set(off)):
            disabled.add_metric([plugin], 1.0 if plugin in off else 0.0)
        yield disabled
        lag = self.ctx.loop_lag()
        stalls = _counter(
            "plugin_stalls", "Event-loop stalls while the plugin was running.", ("plugin",)
        )
        stalled = _counter("plugin_stalled_seconds", "Seconds of those stalls.", ("plugin",))
        if lag is not None:
            for plugin, n in sorted(lag.stalls_by_plugin.items()):
                stalls.add_metric([plugin], float(n))
                stalled.add_metric([plugin], lag.stalled_by_plugin.get(plugin, 0.0))
        yield stalls
        yield stalled

    def _orders(self) -> Iterator[Metric]:
        strategies = self.ctx.strategy_stats()
        paused = _gauge("strategy_paused", "1 while the instance is paused.", ("strategy",))
        families = {
            key: _counter(f"orders_{key}", f"Orders {key} per strategy.", ("strategy",))
            for key in ORDER_COUNTERS
        }
        for sid, info in sorted(strategies.items()):
            paused.add_metric([sid], 1.0 if info["state"] == "paused" else 0.0)
            for key, family in families.items():
                family.add_metric([sid], float(info["orders"].get(key, 0)))
        yield paused
        yield from families.values()
        c = _counter("fills", "Fills applied to the cache.")
        c.add_metric([], float(self.ctx.cache.fill_count))
        yield c

    def _account(self) -> Iterator[Metric]:
        cache = self.ctx.cache
        # realized PnL is kept per symbol (in its quote asset), fees per fee asset
        g = _gauge("realized_pnl", "Realized PnL of this run's fills, per symbol.", ("symbol",))
        for symbol, value in sorted(cache.realized_pnl.items()):
            g.add_metric([symbol], float(value))
        yield g
        g = _gauge("fees", "Fees of this run's fills (negative: rebates).", ("asset",))
        for asset, value in sorted(cache.fees.items()):
            g.add_metric([asset], float(value))
        yield g
        bal = _gauge("balance", "Wallet balance.", ("asset",))
        avail = _gauge("available_balance", "Balance available for new orders.", ("asset",))
        for asset, balance in sorted(cache.balances.items()):
            bal.add_metric([asset], float(balance.wallet_balance))
            if balance.available_balance is not None:
                avail.add_metric([asset], float(balance.available_balance))
        yield bal
        yield avail
        g = _gauge("equity", "Wallet balance plus unrealized PnL at the last mid.", ("asset",))
        for asset, value in sorted(equity(self.ctx).items()):
            g.add_metric([asset], float(value))
        yield g
        pos = _gauge("position_amount", "Position size (negative: short).", ("symbol", "side"))
        upnl = _gauge("unrealized_pnl", "Unrealized PnL at the last mid.", ("symbol", "side"))
        marks = unrealized(self.ctx)
        for (symbol, side), position in sorted(cache.positions.items()):
            pos.add_metric([symbol, side], float(position.amount))
            upnl.add_metric([symbol, side], float(marks[(symbol, side)]))
        yield pos
        yield upnl
        g = _gauge("open_orders", "Open orders in the cache.")
        g.add_metric([], float(len(cache.open_orders)))
        yield g


def registry_for(collector: BotCollector) -> CollectorRegistry:
    """A registry of its own holding only ``collector`` (no process or GC metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)
