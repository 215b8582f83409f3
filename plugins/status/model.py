"""The figures of the status display, computed from the bot context and what the hooks brought.

``StatusModel`` keeps what only hooks tell (last tick per symbol, fills, the last reconcile,
stream states, the last plugin error); ``StatusModel.snapshot(ctx)`` combines it with the
account cache and the core's counters into an immutable ``StatusSnapshot``. Renderers
(``render.py``) work from snapshots only, so they can run anywhere (a worker thread included)
and are tested without a bot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from framework import (
    BotContext,
    PluginError,
    ReconcileResult,
    StreamState,
    StreamStatus,
)
from framework.settings import KillSwitchSettings
from framework.venue import venue_of

ACCOUNT_HOOKS = ("on_balance_update", "on_position_update", "on_order_update", "on_fill")
"""Notifications counted as account events (every change the cache announces)."""
RECONCILIATION_PLUGIN = "reconciliation"
ZERO = Decimal(0)


class PositionRow(msgspec.Struct, frozen=True, kw_only=True):
    """One open position, marked to the mid of the last tick when there is one."""

    symbol: str
    side: str
    amount: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    """Mid of the last tick of the symbol; ``None`` before the first tick."""
    unrealized_pnl: Decimal
    """``(mark - entry) * amount``; the exchange's own figure until a tick arrived."""


class BalanceRow(msgspec.Struct, frozen=True, kw_only=True):
    """One asset of the wallet."""

    asset: str
    wallet_balance: Decimal
    available_balance: Decimal | None


class StreamRow(msgspec.Struct, frozen=True, kw_only=True):
    """The last announced state of one exchange stream."""

    stream: str
    state: str
    """``connected``, ``disconnected``, ``stale`` or ``resynced``."""
    since: float
    """When it entered that state (Unix seconds)."""
    reconnects: int
    """Connections after the first one."""
    reason: str = ""
    needs_resync: bool = False


class ReconcileInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The last reconciliation result, and totals over the run."""

    at: float
    """When the result arrived (Unix seconds)."""
    status: str
    mismatches: int
    repaired: int
    reason: str
    error: str
    runs: int
    mismatches_total: int


class AccountFreshness(msgspec.Struct, frozen=True, kw_only=True):
    """How fresh the account cache is (``ctx.freshness()``) and degraded mode's figures."""

    live: bool
    degraded: bool
    age: float | None
    """Seconds since the newest confirmed account state; ``None`` before any."""
    source: str
    degraded_since: float | None = None
    polls: int = 0
    poll_interval: float | None = None


class StrategyRow(msgspec.Struct, frozen=True, kw_only=True):
    """One strategy instance: ``running``, ``held`` (no ticks, no new orders) or ``paused``
    (it raised; the bus stopped calling it), and why."""

    strategy: str
    state: str
    reason: str = ""


class StatusSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Every figure of the status display at one moment."""

    at: float
    uptime_s: float
    exchange: str
    """The connector's name; empty when no plugin provides an exchange."""
    venue: str = ""
    """SIMULATED, TESTNET or LIVE (``framework.venue``); shown first in the header."""
    positions: tuple[PositionRow, ...] = ()
    unrealized_pnl: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    """Sum of ``Fill.realized_pnl`` of the fills seen during this run."""
    fees: tuple[tuple[str, Decimal], ...] = ()
    """Fees of the fills seen during this run, per fee asset."""
    fills: int = 0
    balances: tuple[BalanceRow, ...] = ()
    open_orders: int = 0
    reconcile: ReconcileInfo | None = None
    reconciliation_enabled: bool = False
    """Whether a ``reconciliation`` plugin is loaded."""
    streams: tuple[StreamRow, ...] = ()
    ticks_per_s: float | None = None
    account_events_per_s: float | None = None
    plugin_errors: tuple[tuple[str, int], ...] = ()
    """Failures per plugin over the run."""
    disabled_plugins: tuple[tuple[str, str], ...] = ()
    """Disabled plugins and why."""
    dropped_events: int = 0
    last_error: str = ""
    """``plugin.hook: error`` of the most recent plugin failure."""
    equity_asset: str = "USDT"
    equity: Decimal | None = None
    """Wallet balance of ``equity_asset`` plus ``unrealized_pnl``; ``None`` before a balance."""
    strategies: tuple[StrategyRow, ...] = ()
    account: AccountFreshness | None = None
    """``None`` without an exchange."""
    kill_switch: str = ""
    """The kill switch's trip in force (what tripped it), or ``""``."""
    kill_switch_limits: str = ""
    """The account-level limits set (``daily loss 500 USDT, ...``), or ``""`` for none."""
    day_pnl: Decimal | None = None
    """Equity now minus the UTC day's starting equity (the kill switch's reading)."""


class RateMeter:
    """Events per second from cumulative counters, over a sliding window of ``window`` seconds.

    ``update(now, counts)`` records a sample and returns, per counter, the rate since the oldest
    sample kept (the newest one at least ``window`` seconds old), or ``None`` while there is no
    earlier sample.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self._samples: deque[tuple[float, tuple[int, ...]]] = deque()

    def update(self, now: float, counts: tuple[int, ...]) -> tuple[float | None, ...]:
        """Record ``counts`` at ``now``; the rates over the window."""
        samples = self._samples
        if samples and (now < samples[-1][0] or len(samples[-1][1]) != len(counts)):
            samples.clear()  # the clock went back, or the counters changed shape
        samples.append((now, counts))
        while len(samples) > 2 and samples[1][0] <= now - self.window:
            samples.popleft()
        then, before = samples[0]
        span = now - then
        if span <= 0:
            return tuple(None for _ in counts)
        return tuple(max(0, c - b) / span for c, b in zip(counts, before, strict=True))


def event_counts(hooks: Mapping[str, int]) -> tuple[int, int]:
    """(ticks, account events) from the core's per-hook notification counts."""
    return hooks.get("on_tick", 0), sum(hooks.get(h, 0) for h in ACCOUNT_HOOKS)


class _StreamTrack:
    __slots__ = ("connects", "last")

    def __init__(self, last: StreamStatus) -> None:
        self.last = last
        self.connects = 0


class StatusModel:
    """What the status plugin learns from hooks, and the snapshots built from it.

    Hook handlers (``observe_*``) only store references or add numbers. Marks (the last tick
    per symbol), realized PnL, fees and fills are read from the core (``ctx.last_ticks`` and
    the cache) when ``snapshot`` builds what a renderer shows.
    """

    def __init__(self, *, equity_asset: str = "USDT") -> None:
        self.equity_asset = equity_asset
        self.started_at: float | None = None
        self.reconcile: ReconcileResult | None = None
        self.reconcile_at = 0.0
        self.reconcile_runs = 0
        self.mismatches_total = 0
        self.streams: dict[str, _StreamTrack] = {}
        self.last_error: PluginError | None = None

    # ----------------------------------------------------------------- hook input

    def observe_reconcile(self, result: ReconcileResult, at: float) -> None:
        """Keep the last reconciliation result and count runs and mismatches."""
        self.reconcile = result
        self.reconcile_at = at
        self.reconcile_runs += 1
        self.mismatches_total += len(result.mismatches)

    def observe_stream(self, status: StreamStatus) -> None:
        """Keep each stream's last state and count its connections."""
        track = self.streams.get(status.stream)
        if track is None:
            track = self.streams[status.stream] = _StreamTrack(status)
        track.last = status
        if status.state is StreamState.CONNECTED:
            track.connects += 1

    def observe_plugin_error(self, error: PluginError) -> None:
        """Keep the most recent plugin failure."""
        self.last_error = error

    # ------------------------------------------------------------------- snapshot

    def snapshot(
        self,
        ctx: BotContext,
        *,
        now: float | None = None,
        meter: RateMeter | None = None,
        stats: Mapping[str, Any] | None = None,
    ) -> StatusSnapshot:
        """The figures now: cache, core counters and what the hooks brought.

        ``meter`` turns the hook counts into events per second (no rates without one);
        ``stats`` defaults to ``ctx.stats()``.
        """
        now = ctx.clock.time() if now is None else now
        stats = ctx.stats() if stats is None else stats
        hooks: Mapping[str, int] = stats.get("hooks", {})
        ticks_rate = account_rate = None
        if meter is not None:
            ticks_rate, account_rate = meter.update(now, event_counts(hooks))
        positions = self._positions(ctx)
        cache = ctx.cache
        balances = tuple(
            BalanceRow(
                asset=b.asset,
                wallet_balance=b.wallet_balance,
                available_balance=b.available_balance,
            )
            for _, b in sorted(cache.balances.items())
        )
        streams = tuple(
            StreamRow(
                stream=name,
                state=str(track.last.state),
                since=track.last.at,
                reconnects=max(0, track.connects - 1),
                reason=track.last.reason,
                needs_resync=track.last.needs_resync,
            )
            for name, track in sorted(self.streams.items())
        )
        error = self.last_error
        unrealized = sum((p.unrealized_pnl for p in positions), ZERO)
        wallet = cache.balances.get(self.equity_asset)
        switch = ctx.kill_switch
        trip = switch.trip
        risk = switch.risk
        return StatusSnapshot(
            kill_switch=trip.describe() if trip is not None else "",
            kill_switch_limits=limits_text(switch.settings),
            day_pnl=risk.day_pnl if risk is not None and risk.asset == self.equity_asset else None,
            equity_asset=self.equity_asset,
            equity=None if wallet is None else wallet.wallet_balance + unrealized,
            strategies=_strategies(ctx),
            at=now,
            uptime_s=max(0.0, now - self.started_at) if self.started_at is not None else 0.0,
            exchange=_exchange_name(ctx),
            venue=venue_of(ctx.settings).value,
            positions=positions,
            unrealized_pnl=unrealized,
            realized_pnl=sum(cache.realized_pnl.values(), ZERO),
            fees=tuple(sorted(cache.fees.items())),
            fills=cache.fill_count,
            balances=balances,
            open_orders=len(cache.open_orders),
            reconcile=self._reconcile_info(),
            reconciliation_enabled=ctx.plugin(RECONCILIATION_PLUGIN) is not None,
            streams=streams,
            ticks_per_s=ticks_rate,
            account_events_per_s=account_rate,
            plugin_errors=tuple(sorted(stats.get("plugin_errors", {}).items())),
            disabled_plugins=tuple(sorted(stats.get("disabled_plugins", {}).items())),
            dropped_events=sum(stats.get("dropped_events", {}).values()),
            last_error=f"{error.plugin}.{error.hook}: {error.error}" if error else "",
            account=_freshness(ctx),
        )

    def _positions(self, ctx: BotContext) -> tuple[PositionRow, ...]:
        rows = []
        for (symbol, side), position in sorted(ctx.cache.positions.items()):
            tick = ctx.last_ticks.get(symbol)
            mark = tick.mid if tick is not None else None
            upnl = (
                (mark - position.entry_price) * position.amount
                if mark is not None
                else position.unrealized_pnl
            )
            rows.append(
                PositionRow(
                    symbol=symbol,
                    side=side,
                    amount=position.amount,
                    entry_price=position.entry_price,
                    mark_price=mark,
                    unrealized_pnl=upnl,
                )
            )
        return tuple(rows)

    def _reconcile_info(self) -> ReconcileInfo | None:
        result = self.reconcile
        if result is None:
            return None
        return ReconcileInfo(
            at=self.reconcile_at,
            status=result.status,
            mismatches=len(result.mismatches),
            repaired=sum(1 for m in result.mismatches if m.repaired),
            reason=result.reason,
            error=result.error,
            runs=self.reconcile_runs,
            mismatches_total=self.mismatches_total,
        )


def _freshness(ctx: BotContext) -> AccountFreshness | None:
    """The cache's freshness, with degraded mode's figures from the reconciliation plugin."""
    if not ctx.has_exchange:
        return None
    fresh = ctx.freshness()
    since: float | None = None
    polls = 0
    interval: float | None = None
    plugin = ctx.plugin(RECONCILIATION_PLUGIN)
    metrics = getattr(plugin, "metrics", None)
    if fresh.degraded and callable(metrics):
        figures = metrics()
        since = figures.get("degraded_since")
        polls = int(figures.get("degraded_polls", 0))
        config = getattr(plugin, "config", None)
        interval = getattr(config, "degraded_poll_interval", None)
    return AccountFreshness(
        live=fresh.live,
        degraded=fresh.degraded,
        age=fresh.age,
        source=fresh.source,
        degraded_since=since,
        polls=polls,
        poll_interval=interval,
    )


def limits_text(settings: KillSwitchSettings) -> str:
    """The kill switch's limits in force, or ``""`` when none is set."""
    asset = settings.asset
    parts = []
    if settings.max_daily_loss is not None:
        parts.append(f"daily loss {settings.max_daily_loss} {asset}")
    if settings.max_drawdown is not None:
        parts.append(f"drawdown {settings.max_drawdown:.2%}")
    if settings.max_open_notional is not None:
        parts.append(f"open notional {settings.max_open_notional} {asset}")
    return ", ".join(parts)


def _strategies(ctx: BotContext) -> tuple[StrategyRow, ...]:
    held = ctx.trading_held
    rows = []
    for sid, info in sorted(ctx.strategy_stats().items()):
        if info["state"] == "paused":
            rows.append(StrategyRow(strategy=sid, state="paused", reason=info["reason"]))
        elif held:
            rows.append(StrategyRow(strategy=sid, state="held", reason=held))
        else:
            rows.append(StrategyRow(strategy=sid, state="running"))
    return tuple(rows)


def _exchange_name(ctx: BotContext) -> str:
    if not ctx.has_exchange:
        return ""
    name = str(getattr(ctx.exchange, "name", "") or type(ctx.exchange).__name__)
    if ctx.settings.exchange.name == "sim":
        return f"{name} (simulated)"
    if ctx.settings.exchange.name == "paper":
        return f"{name} (PAPER: live prices, orders matched locally)"
    return name
