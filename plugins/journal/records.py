"""What the journal stores: one immutable row type per table, built from the hook payloads.

Times are Unix epoch milliseconds. ``ts`` is when the journal recorded the row (the bot's clock);
``event_time`` is the exchange's own time of an order, fill, balance or position change, and
the time the queries use for those (a fill belongs to the day of its trade).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from framework.types import (
    Balance,
    CommandRecord,
    DegradedStatus,
    Fill,
    KillSwitchResume,
    KillSwitchTrip,
    Mismatch,
    Order,
    PluginError,
    Position,
    ReconcileResult,
    StreamStatus,
)


class RunRow(msgspec.Struct, frozen=True, kw_only=True):
    """One process lifetime of the bot: started, last seen alive, stopped (if it stopped)."""

    run_id: str
    started_at: int
    stopped_at: int | None = None
    last_seen: int | None = None
    stop_reason: str = ""
    pid: int = 0
    env: str = ""


class RunEnd(msgspec.Struct, frozen=True, kw_only=True):
    """The graceful stop of a run (an update of its ``RunRow``)."""

    run_id: str
    stopped_at: int
    stop_reason: str


class RunSeen(msgspec.Struct, frozen=True, kw_only=True):
    """The run was alive at ``at`` (bounds the uptime of a run that never stopped cleanly)."""

    run_id: str
    at: int


class OrderRow(msgspec.Struct, frozen=True, kw_only=True):
    """An order as one update left it."""

    ts: int
    run_id: str
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    status: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    avg_price: Decimal
    reduce_only: bool
    event_time: int


class FillRow(msgspec.Struct, frozen=True, kw_only=True):
    """One trade; unique by (symbol, order_id, trade_id), a second copy is ignored."""

    ts: int
    run_id: str
    symbol: str
    order_id: int
    trade_id: int
    client_order_id: str
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    realized_pnl: Decimal
    is_maker: bool
    event_time: int


class TradeCursorRow(msgspec.Struct, frozen=True, kw_only=True):
    """Every trade of ``symbol`` up to ``trade_id`` is in the fills (the journal's trade
    cursor; kept as the highest given, never moved back)."""

    ts: int
    symbol: str
    trade_id: int


class BalanceRow(msgspec.Struct, frozen=True, kw_only=True):
    """One asset's balance after a change (``source``: ``update`` or ``snapshot``)."""

    ts: int
    run_id: str
    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    available_balance: Decimal | None
    event_time: int
    source: str = "update"


class PositionRow(msgspec.Struct, frozen=True, kw_only=True):
    """One position after a change; amount 0 means closed."""

    ts: int
    run_id: str
    symbol: str
    side: str
    amount: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal
    event_time: int
    source: str = "update"


class SampleRow(msgspec.Struct, frozen=True, kw_only=True):
    """A periodic equity sample: wallet + unrealized PnL at the marks known then."""

    ts: int
    run_id: str
    asset: str
    wallet: Decimal
    unrealized: Decimal
    equity: Decimal
    marks: dict[str, Decimal] = msgspec.field(default_factory=dict)


class MismatchRow(msgspec.Struct, frozen=True, kw_only=True):
    """One drift found by a reconcile, with both values and whether it was repaired."""

    kind: str
    key: str
    cache_value: str | None
    exchange_value: str | None
    cache_time: int | None
    exchange_time: int | None
    repaired: bool


class ReconcileRow(msgspec.Struct, frozen=True, kw_only=True):
    """One reconcile run (``uid`` links its mismatches)."""

    uid: str
    ts: int
    run_id: str
    status: str
    reason: str
    snapshot_time: int
    duration_s: float
    in_flight_skipped: int
    error: str
    mismatches: tuple[MismatchRow, ...] = ()


class StreamRow(msgspec.Struct, frozen=True, kw_only=True):
    """A stream changed state (connected, disconnected, stale, resynced)."""

    ts: int
    run_id: str
    stream: str
    state: str
    reason: str
    needs_resync: bool


class DegradedRow(msgspec.Struct, frozen=True, kw_only=True):
    """Degraded mode began (``active``) or ended (with its length, polls and REST weight)."""

    ts: int
    run_id: str
    active: bool
    reason: str
    seconds: float
    polls: int
    weight: int


class PluginErrorRow(msgspec.Struct, frozen=True, kw_only=True):
    """A plugin raised or overran its budget."""

    ts: int
    run_id: str
    plugin: str
    hook: str
    error: str
    consecutive_failures: int
    disabled: bool


class KillSwitchRow(msgspec.Struct, frozen=True, kw_only=True):
    """The kill switch tripped (``ts``: the trip's time); ``actions``: one line each."""

    ts: int
    run_id: str
    limit_name: str
    value: Decimal
    threshold: Decimal
    asset: str
    actions: str

    @property
    def action_lines(self) -> list[str]:
        """``actions`` as its lines."""
        return self.actions.splitlines()


class KillSwitchResumeRow(msgspec.Struct, frozen=True, kw_only=True):
    """The kill switch was cleared (``ts``: when) by ``by_whom``; the trip it cleared tripped
    at ``tripped_at`` on ``limit_name`` (``reason``: its one line). Unique by those times."""

    ts: int
    run_id: str
    by_whom: str
    tripped_at: int
    limit_name: str
    reason: str


class LogStatsRow(msgspec.Struct, frozen=True, kw_only=True):
    """smart_logging's counters since its run started, sampled (cumulative per run)."""

    ts: int
    run_id: str
    emitted: int
    suppressed: int
    aggregated_lines: int
    sink_errors: int
    top_suppressed: dict[str, int] = msgspec.field(default_factory=dict)


class CommandRow(msgspec.Struct, frozen=True, kw_only=True):
    """An operator command (``on_command``): who sent it (front end, identity) and what it did."""

    ts: int
    run_id: str
    source: str
    identity: str
    command: str
    args: list[str]
    ok: bool
    outcome: str


Record = (
    RunRow
    | RunEnd
    | RunSeen
    | OrderRow
    | FillRow
    | TradeCursorRow
    | BalanceRow
    | PositionRow
    | SampleRow
    | ReconcileRow
    | StreamRow
    | DegradedRow
    | PluginErrorRow
    | LogStatsRow
    | KillSwitchRow
    | KillSwitchResumeRow
    | CommandRow
)


def order_row(ts: int, run_id: str, o: Order) -> OrderRow:
    """The row of an ``on_order_update``."""
    return OrderRow(
        ts=ts,
        run_id=run_id,
        symbol=o.symbol,
        order_id=o.order_id,
        client_order_id=o.client_order_id,
        side=o.side,
        type=o.type,
        status=o.status,
        price=o.price,
        orig_qty=o.orig_qty,
        executed_qty=o.executed_qty,
        avg_price=o.avg_price,
        reduce_only=o.reduce_only,
        event_time=o.event_time,
    )


def fill_row(ts: int, run_id: str, f: Fill) -> FillRow:
    """The row of an ``on_fill``."""
    return FillRow(
        ts=ts,
        run_id=run_id,
        symbol=f.symbol,
        order_id=f.order_id,
        trade_id=f.trade_id,
        client_order_id=f.client_order_id,
        side=f.side,
        price=f.price,
        qty=f.qty,
        fee=f.fee,
        fee_asset=f.fee_asset,
        realized_pnl=f.realized_pnl,
        is_maker=f.is_maker,
        event_time=f.event_time,
    )


def balance_row(ts: int, run_id: str, b: Balance, source: str = "update") -> BalanceRow:
    """The row of an ``on_balance_update`` (or of a snapshot's balance)."""
    return BalanceRow(
        ts=ts,
        run_id=run_id,
        asset=b.asset,
        wallet_balance=b.wallet_balance,
        cross_wallet_balance=b.cross_wallet_balance,
        available_balance=b.available_balance,
        event_time=b.event_time,
        source=source,
    )


def position_row(ts: int, run_id: str, p: Position, source: str = "update") -> PositionRow:
    """The row of an ``on_position_update`` (or of a snapshot's position)."""
    return PositionRow(
        ts=ts,
        run_id=run_id,
        symbol=p.symbol,
        side=p.side,
        amount=p.amount,
        entry_price=p.entry_price,
        unrealized_pnl=p.unrealized_pnl,
        event_time=p.event_time,
        source=source,
    )


def mismatch_row(m: Mismatch) -> MismatchRow:
    """One mismatch of a reconcile result."""
    return MismatchRow(
        kind=m.kind,
        key=m.key,
        cache_value=m.cache_value,
        exchange_value=m.exchange_value,
        cache_time=m.cache_time,
        exchange_time=m.exchange_time,
        repaired=m.repaired,
    )


def reconcile_row(uid: str, ts: int, run_id: str, r: ReconcileResult) -> ReconcileRow:
    """The row of an ``on_reconcile_result``, mismatches included."""
    return ReconcileRow(
        uid=uid,
        ts=ts,
        run_id=run_id,
        status=r.status,
        reason=r.reason,
        snapshot_time=r.snapshot_time,
        duration_s=r.duration_s,
        in_flight_skipped=r.in_flight_skipped,
        error=r.error,
        mismatches=tuple(mismatch_row(m) for m in r.mismatches),
    )


def stream_row(ts: int, run_id: str, s: StreamStatus) -> StreamRow:
    """The row of an ``on_stream_state`` (``ts`` is the status's own time)."""
    return StreamRow(
        ts=ts,
        run_id=run_id,
        stream=s.stream,
        state=str(s.state),
        reason=s.reason,
        needs_resync=s.needs_resync,
    )


def degraded_row(ts: int, run_id: str, d: DegradedStatus) -> DegradedRow:
    """The row of an ``on_degraded`` (``ts`` is the status's own time)."""
    return DegradedRow(
        ts=ts,
        run_id=run_id,
        active=d.active,
        reason=d.reason,
        seconds=d.seconds,
        polls=d.polls,
        weight=d.weight,
    )


def command_row(ts: int, run_id: str, c: CommandRecord) -> CommandRow:
    """The row of an ``on_command``."""
    return CommandRow(
        ts=ts,
        run_id=run_id,
        source=c.source,
        identity=c.identity,
        command=c.command,
        args=list(c.args),
        ok=c.ok,
        outcome=c.outcome,
    )


def plugin_error_row(ts: int, run_id: str, e: PluginError) -> PluginErrorRow:
    """The row of an ``on_plugin_error``."""
    return PluginErrorRow(
        ts=ts,
        run_id=run_id,
        plugin=e.plugin,
        hook=e.hook,
        error=e.error,
        consecutive_failures=e.consecutive_failures,
        disabled=e.disabled,
    )


def kill_switch_resume_row(run_id: str, resume: KillSwitchResume) -> KillSwitchResumeRow:
    """The row of an ``on_kill_switch_resume``."""
    return KillSwitchResumeRow(
        ts=int(resume.at * 1000),
        run_id=run_id,
        by_whom=resume.by,
        tripped_at=int(resume.trip.at * 1000),
        limit_name=resume.trip.limit,
        reason=resume.trip.describe(),
    )


def kill_switch_row(run_id: str, trip: KillSwitchTrip) -> KillSwitchRow:
    """The row of an ``on_kill_switch``."""
    return KillSwitchRow(
        ts=int(trip.at * 1000),
        run_id=run_id,
        limit_name=trip.limit,
        value=trip.value,
        threshold=trip.threshold,
        asset=trip.asset,
        actions="\n".join(trip.actions),
    )
