"""``ReconciliationPlugin``: when reconciles run, one at a time, with holds, metrics and reports.

Runs: at startup (strategies held until it succeeded; retried with capped backoff while it
fails), after every stream resync request (held and retried the same way), every
``interval`` seconds (a failure is logged and the next cycle tries again), and on demand
(``reconcile_now``). A request that arrives while a run is under way is coalesced with the
others into one follow-up run. What a run does is in ``_reconcile``; the rule it applies is
in ``compare`` and docs/reconciliation.md.

Degraded mode (the user-data stream down, stale or found silent): every
``degraded_poll_interval`` seconds a **poll**, the same run without the confirm delay (no
stream is delivering anything), applies what REST shows through the same in-flight rule;
what it learns is not drift and no ``on_reconcile_result`` is sent. It ends when the stream is
back and its resync run succeeded. Silent streams are found by ``silent.SilentWatch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from loguru import logger

from framework import CACHE_WRITER, BotContext, hookimpl
from framework.exchange import FillHistory, StreamHealth, TradeHistory
from framework.types import (
    AccountSnapshot,
    DegradedStatus,
    IntervalJob,
    Job,
    Mismatch,
    MismatchKind,
    Order,
    ReconcileResult,
    StreamState,
    StreamStatus,
)

from .compare import Finding, Tolerances, compare, order_key
from .config import ReconciliationSettings
from .fills import Backfill, backfill, note_seeded
from .repair import needs_query, seed, settle, still_suspect
from .silent import SilentWatch
from .sweep import Sweep, Sweeper

NAME = "reconciliation"
NO_STREAM = 2**62  # a poll's trade cut-off: every trade listed is recorded
DETAILS_LOGGED = 10  # mismatches named per WARNING line; the result carries all of them
Phase = Literal["idle", "waiting_for_stream", "fetching", "confirming", "querying", "backoff"]


@dataclass
class Metrics:
    """Totals over the bot's life; ``as_dict`` is what ``metrics()`` returns."""

    runs: int = 0
    errors: int = 0
    drift_found: int = 0
    drift_repaired: int = 0
    in_flight_skipped: int = 0
    unreadable: int = 0
    seeded: int = 0
    weight_used: int = 0
    order_queries: int = 0
    fill_queries: int = 0
    trade_queries: int = 0
    fills_while_down: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    last_status: str = ""
    last_reason: str = ""
    last_duration_s: float = 0.0
    last_weight: int = 0
    last_run_at: float | None = None
    last_good_at: float | None = None
    last_drift_at: float | None = None


@dataclass
class DegradedTotals:
    """Degraded mode over the bot's life (the run summary's ``degraded`` section)."""

    entered: int = 0
    seconds: float = 0.0
    polls: int = 0
    weight: int = 0
    learned: int = 0  # entries and trades a poll wrote to the cache
    failed: int = 0  # polls that could not read the exchange
    deferred: int = 0  # polls put off because the REST budget was tight


@dataclass
class Episode:
    """One stay in degraded mode."""

    started: float
    reason: str
    silent: bool = False  # found silent: the bot did not know it was blind
    polls: int = 0
    weight: int = 0


def _as_news(snapshot: AccountSnapshot) -> AccountSnapshot:
    """A poll's snapshot: no stream is delivering, so an exchange entry changed at or after T
    is not on its way but the newest truth there is; dated just before T, the rule compares
    and repairs it (stamped T) instead of leaving it "in flight" to a stream that is down."""
    t = snapshot.snapshot_time
    if t <= 0:
        return snapshot

    def before_t(entry: Any) -> Any:
        if entry.event_time < t:
            return entry
        return msgspec.structs.replace(entry, event_time=t - 1)

    return msgspec.structs.replace(
        snapshot,
        balances=tuple(before_t(b) for b in snapshot.balances),
        positions=tuple(before_t(p) for p in snapshot.positions),
        open_orders=tuple(before_t(o) for o in snapshot.open_orders),
    )


def _is_market_stream(stream: str) -> bool:
    """Market-data streams carry no account state: their reconnects need no reconcile."""
    return stream.startswith("market")


class ReconciliationPlugin:
    """The built-in ``reconciliation`` plugin."""

    # Repairs write the account cache (``ctx.account_for``): a replacement declares the same.
    tradeloop_roles = frozenset({CACHE_WRITER})

    def __init__(self, config: ReconciliationSettings | None = None) -> None:
        self.config = config or ReconciliationSettings()
        self.tolerances = Tolerances(
            default=self.config.default_tolerance,
            per_asset={k.upper(): v for k, v in self.config.tolerances.items()},
            entry_price=self.config.entry_price_tolerance,
        )
        self.stats = Metrics()
        self.last_result: ReconcileResult | None = None
        self.phase: Phase = "idle"
        self._ctx: BotContext | None = None
        self._pending: list[str] = []
        self._waiters: list[asyncio.Future[ReconcileResult]] = []
        self._critical = False
        self._streams_down: set[str] = set()  # account streams down (strategies held)
        self._resync_streams: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._release: Callable[[], None] | None = None
        self._seeded = False
        self._first_snapshot_time: int | None = None  # S: fills before it are history
        self._sweeper = Sweeper()
        self._stream_up = asyncio.Event()
        self._ran_before_stream = False
        self.degraded_totals = DegradedTotals()
        self.episode: Episode | None = None  # in degraded mode
        self._polling = False  # the run under way is a degraded poll (no confirm delay)
        self._poll_wake = asyncio.Event()
        bound = self.config.silent_stream_after
        self.silent = SilentWatch(bound=bound, grace=min(self.config.confirm_delay, bound / 4))

    # -------------------------------------------------------------------------- hooks

    @staticmethod
    @hookimpl
    def declare_settings() -> type:
        """``plugins.reconciliation`` settings."""
        return ReconciliationSettings

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Hold strategies until the first reconcile; run the reconcile driver."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        self._ctx = ctx
        self._hold(ctx, "reconciliation: first reconcile")
        ctx.spawn(self._drive(), name="driver", owner=NAME)
        ctx.spawn(self._poll_while_degraded(), name="degraded-polls", owner=NAME)
        if self.config.silent_stream_after > 0:
            ctx.spawn(self._watch_silence(), name="silent-stream", owner=NAME)
        try:
            yield
        finally:
            self._unhold()

    @hookimpl
    def register_jobs(self, ctx: BotContext) -> list[Job]:
        """Ask for the startup run, and return the periodic job ``reconciliation.run``."""
        if not ctx.has_exchange:
            logger.bind(plugin=NAME).warning("no exchange connector: reconciliation is off")
            self._unhold()
            return []
        self._request(ctx, "startup", critical=True)
        return [IntervalJob(name="run", every=self.config.interval, func=self._interval_run)]

    @hookimpl
    def on_stream_state(self, ctx: BotContext, status: StreamStatus) -> None:
        """An account stream down: hold strategies. Back (reconnect, listenKey renewal):
        reconcile now, and release them once that run succeeded."""
        if status.state is StreamState.RESYNCED or _is_market_stream(status.stream):
            return
        resync = status.needs_resync
        if status.state in (StreamState.DISCONNECTED, StreamState.STALE):
            # The cache misses whatever happens until the stream is back and resynced: REST
            # polls stand in for it meanwhile (degraded mode).
            self._streams_down.add(status.stream)
            self._hold(ctx, f"reconciliation: {status.stream} {status.state.value}")
            self._enter_degraded(ctx, f"{status.stream} {status.state.value}: {status.reason}")
            return
        if status.state is StreamState.CONNECTED:
            if status.stream in self._streams_down:
                self._streams_down.discard(status.stream)
                resync = True
            self._stream_up.set()
            if self._ran_before_stream:  # the first run did not wait for this stream
                self._ran_before_stream = False
                resync = True
        if resync:
            reason = f"resync: {status.stream} {status.reason}".rstrip()
            self._request(ctx, reason, critical=True, stream=status.stream)

    @hookimpl
    def summarize_run(self) -> Mapping[str, Any]:
        """The ``reconcile``, ``degraded`` and ``silent_stream`` sections of the run summary."""
        s = self.stats
        d = self.degraded_totals
        return {
            "degraded": {
                "entered": d.entered,
                "seconds": round(self._degraded_seconds(), 3),
                "polls": d.polls,
                "weight": d.weight,
            },
            "silent_stream": {
                "probes": self.silent.probes,
                "weight": self.silent.weight,
                "detected": self.silent.detected,
            },
            "reconcile": {
                "runs": s.runs,
                "drift_found": s.drift_found,
                "drift_repaired": s.drift_repaired,
                "in_flight_skipped": s.in_flight_skipped,
                "unreadable": s.unreadable,
                "errors": s.errors,
                "last_status": s.last_status,
            },
        }

    # ---------------------------------------------------------------------- public API

    def metrics(self) -> dict[str, Any]:
        """Drift metrics for other plugins (``ctx.plugin("reconciliation").metrics()``).

        Counts per kind, totals, REST weight spent, the time of the last drift and of the
        last good (non-error) reconcile (clock seconds), and the seconds since it.
        """
        s = self.stats
        now = self._ctx.clock.time() if self._ctx is not None else time.time()
        return {
            "runs": s.runs,
            "errors": s.errors,
            "drift_found": s.drift_found,
            "drift_repaired": s.drift_repaired,
            "in_flight_skipped": s.in_flight_skipped,
            "unreadable": s.unreadable,
            "seeded": s.seeded,
            "by_kind": dict(s.by_kind),
            "weight_used": s.weight_used,
            "order_queries": s.order_queries,
            "fill_queries": s.fill_queries,
            "trade_queries": s.trade_queries,
            "fills_while_down": s.fills_while_down,
            "last_status": s.last_status,
            "last_reason": s.last_reason,
            "last_duration_s": s.last_duration_s,
            "last_weight": s.last_weight,
            "last_run_at": s.last_run_at,
            "last_drift_at": s.last_drift_at,
            "last_good_at": s.last_good_at,
            "seconds_since_good": (
                None if s.last_good_at is None else round(max(0.0, now - s.last_good_at), 3)
            ),
            "running": self.phase != "idle",
            "degraded": self.episode is not None,
            "degraded_since": None if self.episode is None else self.episode.started,
            "degraded_reason": "" if self.episode is None else self.episode.reason,
            "degraded_entered": self.degraded_totals.entered,
            "degraded_seconds": round(self._degraded_seconds(), 3),
            "degraded_polls": self.degraded_totals.polls,
            "degraded_weight": self.degraded_totals.weight,
            "degraded_learned": self.degraded_totals.learned,
            "degraded_failed": self.degraded_totals.failed,
            "degraded_deferred": self.degraded_totals.deferred,
            "silent_probes": self.silent.probes,
            "silent_weight": self.silent.weight,
            "silent_detected": self.silent.detected,
        }

    @property
    def degraded(self) -> bool:
        """Degraded mode is on: the cache follows REST polls."""
        return self.episode is not None

    @property
    def busy(self) -> bool:
        """A run is under way, waiting to retry, or asked for."""
        return self.phase != "idle" or bool(self._pending)

    @hookimpl
    async def reconcile_now(self, reason: str) -> ReconcileResult:
        """Run a reconcile (after the one under way, if any) and return its result; also the
        ``reconcile_now`` hook (the operator's ``reconcile`` command)."""
        if self._ctx is None:
            raise RuntimeError("reconciliation has not started")
        return await self._request(self._ctx, reason)

    # ------------------------------------------------------------------ requests, holds

    async def _interval_run(self) -> None:
        if self._ctx is not None:
            await self._request(self._ctx, "interval")

    def _request(
        self, ctx: BotContext, reason: str, *, critical: bool = False, stream: str | None = None
    ) -> asyncio.Future[ReconcileResult]:
        """Queue a run; requests made while one runs share the next run."""
        waiter: asyncio.Future[ReconcileResult] = asyncio.get_running_loop().create_future()
        self._pending.append(reason)
        self._waiters.append(waiter)
        if critical:
            self._critical = True
            self._hold(ctx, f"reconciliation: {reason}")
        if stream is not None:
            self._resync_streams[stream] = None
        self._wake.set()
        return waiter

    def _hold(self, ctx: BotContext, reason: str) -> None:
        if self.config.hold_strategies and self._release is None:
            self._release = ctx.hold_strategies(reason)

    def _unhold(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    async def _drive(self) -> None:
        """The one task that runs reconciles, so that two never overlap."""
        ctx = self._ctx
        assert ctx is not None
        failures = 0
        first = True
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                continue
            if first:
                first = False
                await self._wait_for_stream()
            reasons, self._pending = self._pending, []
            waiters, self._waiters = self._waiters, []
            critical, self._critical = self._critical, False
            streams, self._resync_streams = self._resync_streams, {}
            reason = ", ".join(dict.fromkeys(reasons))
            # While the user-data stream is down, a run is a degraded poll.
            poll = self.episode is not None and bool(self._streams_down)
            try:
                if self.episode is not None and not poll and not self.episode.silent:
                    # The stream is back: a last poll takes in everything that happened
                    # while it was down (news, not drift); the resync run then compares what
                    # the stream has delivered since. (After a silence it does not: what the
                    # stream lost unnoticed is drift, and the resync reports it.)
                    await self._reconcile(ctx, "degraded: closing poll", poll=True)
                result = await self._reconcile(ctx, reason, poll=poll)
            except Exception as exc:  # noqa: BLE001 - the driver must outlive any one run
                logger.bind(plugin=NAME).opt(exception=exc).error("reconcile ({}) crashed", reason)
                result = self._finish(
                    ctx,
                    ReconcileResult(
                        status="error",
                        reason=reason,
                        snapshot_time=0,
                        duration_s=0.0,
                        error=f"{type(exc).__name__}: {exc}",
                    ),
                    poll=poll,
                )
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(result)
            if result.status == "error":
                if not critical:
                    continue
                failures += 1
                delay = min(self.config.retry_cap, self.config.retry_base * 2 ** (failures - 1))
                logger.bind(plugin=NAME, log_key="reconcile:retry").warning(
                    "reconcile ({}) failed; strategies stay held, retry {} in {:g} s",
                    result.reason,
                    failures,
                    delay,
                )
                self._pending[:0] = [r for r in reasons if not r.startswith("retry")]
                self._pending.insert(0, f"retry {failures}")
                self._critical = True
                self._resync_streams = {**streams, **self._resync_streams}
                self.phase = "backoff"
                try:
                    await ctx.clock.sleep(delay)
                finally:
                    self.phase = "idle"
                self._wake.set()
                continue
            failures = 0
            if poll:  # the stream is still down: no resync yet, holds stay
                if self.config.trade_while_degraded and not self._critical:
                    self._unhold()  # strategies trade on the polled cache
                continue
            for stream in streams:
                ctx.hooks.on_stream_state(
                    StreamStatus(
                        stream=stream,
                        state=StreamState.RESYNCED,
                        at=ctx.clock.time(),
                        reason=f"reconciled: {result.status}",
                    )
                )
            if self.episode is not None and not self._streams_down and not self._critical:
                self._leave_degraded(ctx)
            if not self._critical and not self._streams_down:
                self._unhold()

    async def _wait_for_stream(self) -> None:
        """Before the first run: until an account stream connected, or ``wait_for_stream``."""
        if self._stream_up.is_set():
            return
        if self.config.wait_for_stream <= 0:
            self._ran_before_stream = True
            return
        self.phase = "waiting_for_stream"
        try:
            async with asyncio.timeout(self.config.wait_for_stream):
                await self._stream_up.wait()
        except TimeoutError:
            self._ran_before_stream = True
            logger.bind(plugin=NAME).warning(
                "no account stream connected within {:g} s; reconciling without it "
                "(and again once it connects)",
                self.config.wait_for_stream,
            )
            ctx = self._ctx
            if ctx is not None and isinstance(ctx.exchange, StreamHealth):
                # No user stream (say, no listenKey during an exchange incident): the cache
                # follows REST polls until one connects (PITFALLS 6).
                self._streams_down.add("user_data")
                self._enter_degraded(
                    ctx,
                    f"user_data not connected within {self.config.wait_for_stream:g} s "
                    "of the start",
                )
        finally:
            self.phase = "idle"

    # ---------------------------------------------------------------------------- a run

    async def _reconcile(
        self, ctx: BotContext, reason: str, *, poll: bool = False
    ) -> ReconcileResult:
        started = time.perf_counter()
        started_at = ctx.clock.time()
        self._polling = poll
        try:
            self.phase = "fetching"
            try:
                snapshot = await ctx.exchange.fetch_account_snapshot()
            except Exception as exc:  # noqa: BLE001 - any failure of the exchange is reported
                return self._finish(
                    ctx,
                    ReconcileResult(
                        status="error",
                        reason=reason,
                        snapshot_time=0,
                        duration_s=time.perf_counter() - started,
                        error=f"{type(exc).__name__}: {exc}",
                    ),
                    poll=poll,
                )
            t = snapshot.snapshot_time
            if poll:
                snapshot = _as_news(snapshot)
            account = ctx.account_for(self)
            comparison = compare(snapshot, account, self.tolerances, seed=not self._seeded)
            seeded = seed(account, comparison.seeds, t)
            note_seeded(account, comparison.seeds)
            # From here on the cache refuses updates older than the snapshot (it has them,
            # or they were drift) and keeps them aside for the re-check of suspects.
            account.reconciled(t)
            if self._first_snapshot_time is None:
                self._first_snapshot_time = t
            in_flight = comparison.in_flight
            weight = snapshot.weight_used
            mismatches: list[Mismatch] = []
            if comparison.suspects:
                more_in_flight, queries, found = await self._confirm(ctx, comparison.suspects, t)
                in_flight += more_in_flight
                weight += queries
                self.stats.order_queries += queries
                mismatches = found
            self._seeded = True
            waited = bool(comparison.suspects)
            # In a poll no stream delivers a trade at or after T either: record it now.
            swept = await self._sweep(
                ctx, snapshot, NO_STREAM if poll else t, self._first_snapshot_time, waited=waited
            )
            if swept is not None:
                waited = waited or swept.waited
                in_flight += swept.in_flight
                weight += swept.weight
                self.stats.trade_queries += swept.queries
                self.stats.fills_while_down += swept.while_down
                mismatches += swept.mismatches
            fills = await self._backfill(ctx, t, self._first_snapshot_time, waited=waited)
            if fills is not None:
                in_flight += fills.in_flight
                weight += fills.weight
                self.stats.fill_queries += fills.queries
                self.stats.fills_while_down += fills.while_down
                mismatches += fills.mismatches
            # Everything older than T is in the cache now: confirmed as of the run's start.
            account.confirmed(started_at)
            return self._finish(
                ctx,
                ReconcileResult(
                    status="warning" if mismatches or comparison.unreadable else "ok",
                    reason=reason,
                    snapshot_time=t,
                    duration_s=time.perf_counter() - started,
                    mismatches=tuple(mismatches),
                    in_flight_skipped=in_flight,
                    seeded=seeded,
                    weight_used=weight,
                    unreadable=comparison.unreadable,
                ),
                poll=poll,
            )
        finally:
            self.phase = "idle"
            self._polling = False

    async def _confirm(
        self, ctx: BotContext, suspects: list[Finding], t: int
    ) -> tuple[int, int, list[Mismatch]]:
        """Re-check suspects after ``confirm_delay``; query orders the exchange no longer
        lists; repair what is still drift. Returns (in flight, order queries, mismatches)."""
        account = ctx.account_for(self)
        await self._wait_confirm_delay(ctx)
        tol = self.tolerances
        absent = [f for f in suspects if needs_query(f) and still_suspect(f, account, t, tol)]
        asked = absent[: self.config.max_order_queries]
        answers: dict[tuple[str, int], Order | BaseException | None] = {}
        if asked:
            self.phase = "querying"
            replies = await asyncio.gather(
                *(self._query(ctx, f) for f in asked), return_exceptions=True
            )
            for finding, reply in zip(asked, replies, strict=True):
                answers[order_key(finding)] = reply
                if isinstance(reply, BaseException):
                    logger.bind(plugin=NAME, log_key="reconcile:query").warning(
                        "reconcile: could not query order {}: {}", finding.key, reply
                    )
        # No await from here on: the cache cannot change between the last check and repair.
        in_flight, mismatches = settle(suspects, account, t, tol, answers)
        return in_flight, len(asked), mismatches

    async def _sweep(
        self, ctx: BotContext, snapshot: AccountSnapshot, t: int, start: int, *, waited: bool
    ) -> Sweep | None:
        """Sweep the trade lists of the symbols the account may trade on (``sweep.py``);
        ``None`` if the sweep is off or the connector cannot list trades."""
        exchange = ctx.exchange
        budget = self.config.max_trade_queries
        if not budget or not isinstance(exchange, TradeHistory):
            return None
        account = ctx.account_for(self)
        symbols = account.trade_symbols()
        symbols.update(ctx.subscribed_symbols())  # exchange.symbols and the strategies'
        symbols.update(p.symbol for p in snapshot.positions)
        symbols.update(o.symbol for o in snapshot.open_orders)

        async def confirm_delay() -> None:
            await self._wait_confirm_delay(ctx)
            self.phase = "querying"

        self.phase = "querying"
        done = await self._sweeper.sweep(
            account,
            exchange,
            self._sweeper.order_of(symbols),
            t,
            start,
            budget,
            wait=None if waited else confirm_delay,
        )
        if done.while_down:
            logger.bind(plugin=NAME, log_key="reconcile:while_down").info(
                "reconcile: recorded {} trades made while the bot was down", done.while_down
            )
        if done.unfinished:
            logger.bind(plugin=NAME, log_key="reconcile:sweep").info(
                "reconcile: trade sweep of {} continues next run (max_trade_queries {})",
                ", ".join(done.unfinished[:10]),
                budget,
            )
        return done

    async def _backfill(
        self, ctx: BotContext, t: int, start: int, *, waited: bool
    ) -> Backfill | None:
        """Recover fills whose events were lost (``fills.py``; trades before ``start``, the
        first snapshot's time, are history); ``None`` if there was nothing to do or the
        connector cannot list trades."""
        exchange = ctx.exchange
        account = ctx.account_for(self)
        gaps = account.fill_gaps(t)
        if not gaps or not isinstance(exchange, FillHistory):
            return None
        if not waited and self.config.confirm_delay > 0:
            # a reordered trade event may still close the gap, like any suspect
            await self._wait_confirm_delay(ctx)
            gaps = account.fill_gaps(t)
            if not gaps:
                return None
        self.phase = "querying"
        return await backfill(
            ctx.account_for(self), exchange, gaps, t, start, self.config.max_fill_queries
        )

    async def _wait_confirm_delay(self, ctx: BotContext) -> None:
        """Give the stream ``confirm_delay`` to deliver what it still has on its way (not in a
        degraded poll: no stream is delivering anything)."""
        if self.config.confirm_delay > 0 and not self._polling:
            self.phase = "confirming"
            await ctx.clock.sleep(self.config.confirm_delay)

    async def _query(self, ctx: BotContext, finding: Finding) -> Order | None:
        order = finding.cache
        assert isinstance(order, Order)
        return await ctx.exchange.query_order(order.symbol, order.client_order_id)

    # ------------------------------------------------------------------------- results

    def _finish(
        self, ctx: BotContext, result: ReconcileResult, *, poll: bool = False
    ) -> ReconcileResult:
        """Count, log and announce one result (a degraded poll's: count and log it)."""
        if poll:
            return self._finish_poll(result)
        s = self.stats
        now = ctx.clock.time()
        s.runs += 1
        s.last_status = result.status
        s.last_reason = result.reason
        s.last_duration_s = round(result.duration_s, 6)
        s.last_weight = result.weight_used
        s.last_run_at = now
        s.weight_used += result.weight_used
        s.in_flight_skipped += result.in_flight_skipped
        s.unreadable += result.unreadable
        s.seeded += result.seeded
        if result.status == "error":
            s.errors += 1
            logger.bind(plugin=NAME, log_key="reconcile:error").warning(
                "reconcile ({}) failed: {}; the bot goes on with the cache",
                result.reason,
                result.error,
            )
        else:
            s.last_good_at = now
            self._log(result)
        if result.mismatches:
            s.last_drift_at = now
            s.drift_found += len(result.mismatches)
            s.drift_repaired += sum(1 for m in result.mismatches if m.repaired)
            s.by_kind.update(m.kind for m in result.mismatches)
        self.last_result = result
        ctx.hooks.on_reconcile_result(result)
        return result

    @staticmethod
    def _log(result: ReconcileResult) -> None:
        by_kind: defaultdict[MismatchKind, list[Mismatch]] = defaultdict(list)
        for m in result.mismatches:
            by_kind[m.kind].append(m)
        for kind, found in by_kind.items():
            repaired = sum(1 for m in found if m.repaired)
            details = "; ".join(
                f"{m.key}: cache {m.cache_value} (t={m.cache_time}) exchange "
                f"{m.exchange_value} (t={m.exchange_time})"
                for m in found[:DETAILS_LOGGED]
            )
            extra = len(found) - DETAILS_LOGGED
            more = f"; and {extra} more" if extra > 0 else ""
            logger.bind(plugin=NAME, log_key=f"reconcile:{kind}").warning(
                "reconcile ({}): {} {} drift, {} repaired: {}{}",
                result.reason,
                len(found),
                kind,
                repaired,
                details,
                more,
            )
        if result.unreadable:
            logger.bind(plugin=NAME, log_key="reconcile:unreadable").warning(
                "reconcile ({}): {} entries of the exchange's answer held insane values and "
                "were dropped; what they stand for in the cache is left for the next run",
                result.reason,
                result.unreadable,
            )
        logger.bind(plugin=NAME, log_key="reconcile:done").info(
            "reconcile ({}) {}: {} drift, {} in flight, {} seeded, weight {}, {:.1f} ms",
            result.reason,
            result.status,
            len(result.mismatches),
            result.in_flight_skipped,
            result.seeded,
            result.weight_used,
            result.duration_s * 1000,
        )

    # --------------------------------------------------------------------- degraded mode

    def _enter_degraded(self, ctx: BotContext, reason: str, *, silent: bool = False) -> None:
        """Begin degraded mode (once per stay): REST polls stand in for the stream."""
        if self.episode is not None:
            return
        now = ctx.clock.time()
        self.episode = Episode(started=now, reason=reason, silent=silent)
        self.degraded_totals.entered += 1
        ctx.account_for(self).set_degraded(True)
        logger.bind(plugin=NAME, log_key="degraded:enter").warning(
            "degraded mode: {}; polling REST every {:g} s until the stream is back and "
            "resynced; strategies {}",
            reason,
            self.config.degraded_poll_interval,
            "trade on the polled cache"
            if self.config.trade_while_degraded
            else "are held (cancels and reduce-only orders still go)",
        )
        ctx.hooks.on_degraded(DegradedStatus(active=True, at=now, reason=reason))
        self._poll_wake.set()

    def _leave_degraded(self, ctx: BotContext) -> None:
        episode, self.episode = self.episode, None
        if episode is None:
            return
        now = ctx.clock.time()
        seconds = max(0.0, now - episode.started)
        self.degraded_totals.seconds += seconds
        ctx.account_for(self).set_degraded(False)
        logger.bind(plugin=NAME, log_key="degraded:leave").info(
            "degraded mode over after {:.1f} s ({}): {} polls, weight {}",
            seconds,
            episode.reason,
            episode.polls,
            episode.weight,
        )
        ctx.hooks.on_degraded(
            DegradedStatus(
                active=False,
                at=now,
                reason=episode.reason,
                seconds=round(seconds, 3),
                polls=episode.polls,
                weight=episode.weight,
            )
        )

    def _degraded_seconds(self) -> float:
        """Seconds spent in degraded mode, the stay under way included."""
        total = self.degraded_totals.seconds
        if self.episode is not None and self._ctx is not None:
            total += max(0.0, self._ctx.clock.time() - self.episode.started)
        return total

    async def _poll_while_degraded(self) -> None:
        """Every ``degraded_poll_interval`` seconds while the stream is down: one poll, unless
        the REST budget is tight (the governor paces requests): then the next turn."""
        ctx = self._ctx
        assert ctx is not None
        while True:
            await self._poll_wake.wait()
            self._poll_wake.clear()
            while self.episode is not None:
                await ctx.clock.sleep(self.config.degraded_poll_interval)
                if self.episode is None or not self._streams_down or not ctx.has_exchange:
                    continue  # back: the resync run ends degraded mode
                health = ctx.exchange
                if isinstance(health, StreamHealth) and health.rest_busy():
                    self.degraded_totals.deferred += 1
                    logger.bind(plugin=NAME, log_key="degraded:deferred").info(
                        "degraded poll put off: the REST rate budget is tight"
                    )
                    continue
                await self._request(ctx, "degraded poll")

    def _finish_poll(self, result: ReconcileResult) -> ReconcileResult:
        """Count one poll: what it learned is the stream's news, not drift."""
        totals = self.degraded_totals
        totals.polls += 1
        totals.weight += result.weight_used
        learned = len(result.mismatches) + result.seeded
        totals.learned += learned
        if self.episode is not None:
            self.episode.polls += 1
            self.episode.weight += result.weight_used
        if result.status == "error":
            totals.failed += 1
            logger.bind(plugin=NAME, log_key="degraded:error").warning(
                "degraded poll failed: {}; the next one in {:g} s",
                result.error,
                self.config.degraded_poll_interval,
            )
        else:
            logger.bind(plugin=NAME, log_key="degraded:poll").info(
                "degraded poll: {} changes applied, {} in flight, weight {}",
                learned,
                result.in_flight_skipped,
                result.weight_used,
            )
        return result

    # -------------------------------------------------------------------- silent streams

    async def _watch_silence(self) -> None:
        """Every ``silent_stream_after / 4`` seconds: is the user-data stream silent?"""
        ctx = self._ctx
        assert ctx is not None
        watch = self.silent
        while True:
            await ctx.clock.sleep(watch.tick)
            if not ctx.has_exchange:
                continue
            health = ctx.exchange
            if not isinstance(health, StreamHealth):
                return  # the connector cannot tell: its own watchdog is all there is
            now = ctx.clock.time()
            watch.observe(now, health.user_messages(), health.order_actions())
            if (
                self.episode is not None
                or self._streams_down
                or not self._stream_up.is_set()
                or not self._seeded
                or self.busy
            ):
                continue
            why = watch.unanswered_actions(now)
            if why is None:
                account = ctx.account_for(self)
                moving = bool(account.open_orders_view) or bool(account.positions_view)
                if not watch.probe_due(now, could_move=moving) or health.rest_busy():
                    continue
                why = await self._probe(ctx)
            if why is not None and self.episode is None and not self._streams_down:
                self._silent_found(ctx, health, why)

    async def _probe(self, ctx: BotContext) -> str | None:
        """One REST snapshot compared with the cache (nothing written): what the stream
        should have delivered, or ``None``."""
        watch = self.silent
        watch.last_probe = ctx.clock.time()
        watch.probes += 1
        try:
            snapshot = await ctx.exchange.fetch_account_snapshot()
        except Exception as exc:  # noqa: BLE001 - the next probe asks again
            logger.bind(plugin=NAME, log_key="silent:probe").warning(
                "silent-stream probe failed: {}", exc
            )
            return None
        watch.weight += snapshot.weight_used
        account = ctx.account_for(self)
        comparison = compare(snapshot, account, self.tolerances, seed=False)
        return watch.evidence(comparison.suspects, snapshot.snapshot_time)

    def _silent_found(self, ctx: BotContext, health: StreamHealth, why: str) -> None:
        """The stream is silent: degraded mode until a new connection is resynced."""
        watch = self.silent
        watch.detected += 1
        now = ctx.clock.time()
        quiet = watch.quiet_for(now)
        reason = f"user_data silent for {quiet:.0f} s: {why}"
        logger.bind(plugin=NAME, log_key="silent:found").warning(
            "{}; reconnecting and resyncing", reason
        )
        account = ctx.account_for(self)
        account.stream_down(watch.quiet_since if watch.quiet_since is not None else now)
        self._streams_down.add("user_data")
        self._hold(ctx, "reconciliation: user_data silent")
        self._enter_degraded(ctx, reason, silent=True)
        watch.restart(now, health.order_actions())
        health.restart_user_stream(f"silent for {quiet:.0f} s")
