"""The ``journal`` plugin: records what the bot sees into a ``JournalStore`` (SQLite)."""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import msgspec
from loguru import logger

from framework import (
    Balance,
    BotContext,
    CommandRecord,
    DegradedStatus,
    Fill,
    IntervalJob,
    KillSwitchResume,
    KillSwitchTrip,
    Order,
    PluginError,
    Position,
    ReconcileResult,
    StreamStatus,
    TradeCursors,
    hookimpl,
)
from framework.state import StateStore

from .records import (
    LogStatsRow,
    RunEnd,
    RunRow,
    RunSeen,
    SampleRow,
    TradeCursorRow,
    balance_row,
    command_row,
    degraded_row,
    fill_row,
    kill_switch_resume_row,
    kill_switch_row,
    order_row,
    plugin_error_row,
    position_row,
    reconcile_row,
    stream_row,
)
from .sampler import equity
from .settings import JournalSettings
from .state import JournalState
from .store import JournalStore
from .writer import BatchWriter

NAME = "journal"


class Journal:
    """Orders, fills, balances, positions, equity samples, reconciles, stream states, plugin
    errors, log stats and runs, batched into SQLite off the event loop.

    Other plugins read it through ``ctx.plugin("journal")``: ``store`` (the query helpers of
    ``JournalStore``), ``await flush()`` and ``sample()``.
    """

    start_priority = 10
    """Starts right after smart_logging and before the connector, so it stops after it and
    records the connector's last stream states."""

    def __init__(
        self, config: JournalSettings | None = None, *, store: JournalStore | None = None
    ) -> None:
        self.config = config or JournalSettings()
        self._given_store = store
        self._store: JournalStore | None = store
        self._writer: BatchWriter | None = None
        # The writer while the journal records (None before start and after stop).
        self._recording: BatchWriter | None = None
        self._ctx: BotContext | None = None
        self.run_id = ""
        # The account as the hooks (and a start snapshot) told it: what samples value.
        self.balances: dict[str, Balance] = {}
        self.positions: dict[tuple[str, str], Position] = {}
        self._reconciles = itertools.count(1)
        self._sampled_once = False
        self._cursor_frozen = False  # a record was lost: the cursor is not moved on

    # ------------------------------------------------------------------ public surface

    @property
    def store(self) -> JournalStore:
        """The store the journal writes to (its query methods are the query helpers)."""
        if self._store is None:
            raise RuntimeError("the journal is not started")
        return self._store

    @property
    def writer(self) -> BatchWriter:
        """The batch writer (counters: written, pending, dropped, failures)."""
        if self._writer is None:
            raise RuntimeError("the journal is not started")
        return self._writer

    async def flush(self) -> None:
        """Return once every record accepted so far is committed."""
        await self.writer.flush()

    def now_ms(self) -> int:
        """The bot's clock in epoch ms."""
        assert self._ctx is not None
        return int(self._ctx.clock.time() * 1000)

    def sample(self) -> None:
        """Record equity (wallet + unrealized PnL at the last ticks' mids) and log stats now."""
        ctx, writer = self._ctx, self._recording
        if ctx is None or writer is None:
            return
        ts = self.now_ms()
        asset = self.config.equity_asset
        marks = {symbol: tick.mid for symbol, tick in ctx.last_ticks.items()}
        figures = equity(asset, self.balances.values(), self.positions.values(), marks)
        if figures is not None:
            wallet, unrealized = figures
            writer.add(
                SampleRow(
                    ts=ts,
                    run_id=self.run_id,
                    asset=asset,
                    wallet=wallet,
                    unrealized=unrealized,
                    equity=wallet + unrealized,
                    marks=marks,
                )
            )
        stats = log_stats(ctx)
        if stats is not None:
            writer.add(
                LogStatsRow(
                    ts=ts,
                    run_id=self.run_id,
                    emitted=int(stats.get("emitted", 0)),
                    suppressed=int(stats.get("suppressed", 0)),
                    aggregated_lines=int(stats.get("aggregated_lines", 0)),
                    sink_errors=int(stats.get("sink_errors", 0)),
                    top_suppressed={
                        str(k): int(v) for k, v in dict(stats.get("top_suppressed", {})).items()
                    },
                )
            )
        writer.add(RunSeen(run_id=self.run_id, at=ts))

    # ------------------------------------------------------------------ setup hooks

    @staticmethod
    @hookimpl
    def declare_settings() -> type[JournalSettings]:
        """The ``plugins.journal`` block."""
        return JournalSettings

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Open the store and start writing; at stop record the stop and flush everything."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        from .factory import make_store  # aiosqlite when the journal opens, not with the CLI

        store = self._given_store or make_store(self.config, ctx.settings)
        await store.open()
        self._store = store
        self._ctx = ctx
        self.run_id = uuid.uuid4().hex[:16]
        writer = BatchWriter(
            store,
            flush_interval=self.config.flush_interval,
            batch_size=self.config.batch_size,
            max_pending=self.config.max_pending,
        )
        self._writer = writer
        self._recording = writer
        started = self.now_ms()
        writer.add(
            RunRow(
                run_id=self.run_id,
                started_at=started,
                last_seen=started,
                pid=os.getpid(),
                env=ctx.settings.env,
            )
        )
        try:
            await writer.flush()
            logger.info("journal {} (run {})", store.location, self.run_id)
            if not self.config.strategy_state:
                logger.info("strategy state and order intents are kept for this run only")
            elif isinstance(store, StateStore):
                ctx.publish_state_store(JournalState(store, writer.flush), NAME)
            else:
                logger.warning(
                    "journal store {} keeps no strategy state or order intents: they last "
                    "for this run only",
                    store.location,
                )
            ctx.spawn(writer.run(), name="writer", owner=NAME)
            yield
        finally:
            await self._stop(ctx, store, writer)

    async def _stop(self, ctx: BotContext, store: JournalStore, writer: BatchWriter) -> None:
        try:
            self.sample()
            writer.add(
                RunEnd(
                    run_id=self.run_id,
                    stopped_at=self.now_ms(),
                    stop_reason=ctx.stop_reason or "stopped",
                )
            )
            self._recording = None
            # Counted as lost until committed: if this stop is cut off, the count stands.
            ctx.report_lost_records(NAME, writer.dropped + writer.pending)
            await writer.flush()
            if ctx.state_persistent:
                try:  # for the run summary, from every fill held
                    await ctx.attributed_positions()
                except Exception as exc:  # noqa: BLE001 - the stop goes on; the summary lacks it
                    logger.warning("positions could not be attributed at stop: {!r}", exc)
        finally:
            ctx.publish_state_store(None, NAME)
            self._recording = None
            ctx.report_lost_records(NAME, writer.dropped + writer.pending)
            if writer.pending:
                logger.bind(plugin=NAME).error(
                    "journal {}: {} records could not be written at stop",
                    store.location,
                    writer.pending,
                )
            await store.close()

    @hookimpl
    def register_jobs(self) -> list[IntervalJob]:
        """Equity samples every ``sample_every`` seconds, the first at start; the run's
        heartbeat every ``heartbeat_every`` seconds."""
        return [
            IntervalJob(
                name="sample", every=self.config.sample_every, func=self._sample_job, at_start=True
            ),
            IntervalJob(name="heartbeat", every=self.config.heartbeat_every, func=self.heartbeat),
        ]

    def heartbeat(self) -> None:
        """Move the run's ``last_seen`` to now (one row update, batched with the writes)."""
        if self._recording is not None:
            self._recording.add(RunSeen(run_id=self.run_id, at=self.now_ms()))

    async def _sample_job(self) -> None:
        ctx = self._ctx
        if not self._sampled_once and ctx is not None:
            self._sampled_once = True
            if self.config.snapshot_at_start and not self.balances and ctx.has_exchange:
                await self._record_snapshot(ctx)
        self.sample()

    async def _record_snapshot(self, ctx: BotContext) -> None:
        """The account from REST while the cache is still empty (a start without history)."""
        snapshot = await ctx.exchange.fetch_account_snapshot()
        writer = self._recording
        if writer is None:
            return
        ts = self.now_ms()
        for b in snapshot.balances:
            b = _at(b, snapshot.snapshot_time)
            writer.add(balance_row(ts, self.run_id, b, source="snapshot"))
            if _newer(b, self.balances.get(b.asset)):
                self.balances[b.asset] = b
        for p in snapshot.positions:
            p = _at(p, snapshot.snapshot_time)
            writer.add(position_row(ts, self.run_id, p, source="snapshot"))
            if _newer(p, self.positions.get((p.symbol, p.side))):
                self.positions[(p.symbol, p.side)] = p

    @hookimpl
    async def last_trade_ids(self) -> TradeCursors | None:
        """What the journal holds of the account's trades: its trade cursor per symbol, the
        start of its first run and the fills held after the cursors. The core seeds the cache
        with them, so every trade after the cursor that the journal lacks (made while the bot
        was down, or cut off by a crash before it was written) is read back and recorded."""
        if self._store is None:
            return None
        return await self._store.trade_cursors()

    @hookimpl
    def on_trade_cursor(self, symbol: str, trade_id: int) -> None:
        """Keep the cache's trade cursor, written after the fills it covers (the writer keeps
        order). Not once a record of this run was lost: the next start reads back from the
        last cursor written, so the lost fills come back."""
        writer = self._recording
        if writer is None:
            return
        if writer.dropped or self._lost_events():
            if not self._cursor_frozen:
                self._cursor_frozen = True
                logger.bind(plugin=NAME).warning(
                    "journal lost records in this run: its trade cursor stays at the last one "
                    "written, so the next start reads the trades after it back"
                )
            return
        writer.add(TradeCursorRow(ts=self.now_ms(), symbol=symbol, trade_id=trade_id))

    def _lost_events(self) -> bool:
        """The hook bus dropped events queued for the journal (it fell behind)."""
        ctx = self._ctx
        if ctx is None:
            return False
        stats = ctx.stats()
        return bool(stats.get("dropped_events", {}).get(NAME)) or bool(
            stats.get("held_dropped_events", {}).get(NAME)
        )

    @hookimpl
    def summarize_run(self) -> Mapping[str, Any] | None:
        """The ``journal`` section of the run summary."""
        writer = self._writer
        if writer is None or self._store is None:
            return None
        return {
            "journal": {
                "location": self._store.location,
                "run_id": self.run_id,
                "written": writer.written,
                "dropped": writer.dropped + writer.pending,
                "unwritten_at_stop": writer.pending,
                "write_failures": writer.failures,
            }
        }

    # ------------------------------------------------------------------ notifications

    @hookimpl
    def on_order_update(self, after: Order) -> None:
        """Record the order as it is now."""
        if self._recording is not None:
            self._recording.add(order_row(self.now_ms(), self.run_id, after))

    @hookimpl
    def on_fill(self, fill: Fill) -> None:
        """Record the fill."""
        if self._recording is not None:
            self._recording.add(fill_row(self.now_ms(), self.run_id, fill))

    @hookimpl
    def on_balance_update(self, after: Balance) -> None:
        """Record the balance as it is now."""
        self.balances[after.asset] = after
        if self._recording is not None:
            self._recording.add(balance_row(self.now_ms(), self.run_id, after))

    @hookimpl
    def on_position_update(self, after: Position) -> None:
        """Record the position as it is now."""
        self.positions[(after.symbol, after.side)] = after
        if self._recording is not None:
            self._recording.add(position_row(self.now_ms(), self.run_id, after))

    @hookimpl
    def on_reconcile_result(self, result: ReconcileResult) -> None:
        """Record the reconcile and its mismatches."""
        if self._recording is not None:
            uid = f"{self.run_id}-{next(self._reconciles)}"
            self._recording.add(reconcile_row(uid, self.now_ms(), self.run_id, result))

    @hookimpl
    def on_stream_state(self, status: StreamStatus) -> None:
        """Record the stream's new state (at the status's own time)."""
        if self._recording is not None:
            self._recording.add(stream_row(int(status.at * 1000), self.run_id, status))

    @hookimpl
    def on_degraded(self, status: DegradedStatus) -> None:
        """Record degraded mode beginning or ending (at the status's own time)."""
        if self._recording is not None:
            self._recording.add(degraded_row(int(status.at * 1000), self.run_id, status))

    @hookimpl
    def on_kill_switch(self, trip: KillSwitchTrip) -> None:
        """Record the trip and what was done about it."""
        if self._recording is not None:
            self._recording.add(kill_switch_row(self.run_id, trip))

    @hookimpl
    def on_kill_switch_resume(self, resume: KillSwitchResume) -> None:
        """Record the clearing: when, by whom, and the trip it cleared."""
        if self._recording is not None:
            self._recording.add(kill_switch_resume_row(self.run_id, resume))

    @hookimpl
    def on_command(self, record: CommandRecord) -> None:
        """Record the operator command: who sent it and what it did."""
        if self._recording is not None:
            self._recording.add(command_row(int(record.at * 1000), self.run_id, record))

    @hookimpl
    def on_plugin_error(self, error: PluginError) -> None:
        """Record the failure."""
        if self._recording is not None:
            self._recording.add(plugin_error_row(int(error.at * 1000), self.run_id, error))


def log_stats(ctx: BotContext) -> Mapping[str, Any] | None:
    """``ctx.plugin("smart_logging").stats()`` totals, if such a plugin runs."""
    stats = getattr(ctx.plugin("smart_logging"), "stats", None)
    if not callable(stats):
        return None
    try:
        result = stats(per_key=False)
    except TypeError:
        result = stats()
    return result if isinstance(result, Mapping) else None


def _newer(entry: Balance | Position, held: Balance | Position | None) -> bool:
    return held is None or entry.event_time > held.event_time


def _at(entry: Any, snapshot_time: int) -> Any:
    """A snapshot entry timed at the snapshot when the exchange gave it no time of its own."""
    if entry.event_time:
        return entry
    return msgspec.structs.replace(entry, event_time=snapshot_time)
