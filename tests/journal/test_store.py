"""SQLiteStore: every record type round-trips, the queries' windows, migrations, WAL."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from framework import TradeCursors
from plugins.journal import (
    MIGRATIONS,
    BalanceRow,
    FillRow,
    JournalError,
    JournalStore,
    KillSwitchResumeRow,
    LogStatsRow,
    MismatchRow,
    OrderRow,
    PluginErrorRow,
    PositionRow,
    ReconcileRow,
    RunEnd,
    RunRow,
    RunSeen,
    SampleRow,
    SQLiteStore,
    StreamRow,
    TradeCursorRow,
)

D = Decimal


def fill(trade_id: int, t: int, run: str = "r1") -> FillRow:
    return FillRow(
        ts=t,
        run_id=run,
        symbol="BTCUSDT",
        order_id=7,
        trade_id=trade_id,
        client_order_id="c7",
        side="BUY",
        price=D("60000.1"),
        qty=D("0.010"),
        fee=D("0.24000040"),
        fee_asset="USDT",
        realized_pnl=D("0"),
        is_maker=False,
        event_time=t,
    )


def balance(wallet: str | None, t: int, asset: str = "USDT") -> BalanceRow:
    amount = D(wallet) if wallet is not None else D(0)
    return BalanceRow(
        ts=t,
        run_id="r1",
        asset=asset,
        wallet_balance=amount,
        cross_wallet_balance=amount,
        available_balance=None,
        event_time=t,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "j" / "journal.sqlite3")
    await s.open()
    yield s
    await s.close()


async def test_is_a_journal_store_in_wal_mode_at_the_current_version(store: SQLiteStore) -> None:
    assert isinstance(store, JournalStore)
    assert await store.schema_version() == len(MIGRATIONS)
    async with store.db.execute("PRAGMA journal_mode") as cursor:
        assert (await cursor.fetchone()) == ("wal",)


async def test_every_record_round_trips(store: SQLiteStore) -> None:
    mismatch = MismatchRow(
        kind="order_missing",
        key="ETHUSDT:9",
        cache_value=None,
        exchange_value="NEW",
        cache_time=None,
        exchange_time=5,
        repaired=True,
    )
    order = OrderRow(
        ts=5,
        run_id="r1",
        symbol="ETHUSDT",
        order_id=9,
        client_order_id="c9",
        side="SELL",
        type="LIMIT",
        status="NEW",
        price=D("3000.50"),
        orig_qty=D("0.1"),
        executed_qty=D("0"),
        avg_price=D("0"),
        reduce_only=True,
        event_time=5,
    )
    position = PositionRow(
        ts=5,
        run_id="r1",
        symbol="ETHUSDT",
        side="BOTH",
        amount=D("-0.1"),
        entry_price=D("3000"),
        unrealized_pnl=D("-1.5"),
        event_time=5,
    )
    sample = SampleRow(
        ts=5,
        run_id="r1",
        asset="USDT",
        wallet=D("100"),
        unrealized=D("-1.5"),
        equity=D("98.5"),
        marks={"ETHUSDT": D("3015")},
    )
    reconcile = ReconcileRow(
        uid="r1-1",
        ts=6,
        run_id="r1",
        status="warning",
        reason="interval",
        snapshot_time=5,
        duration_s=0.25,
        in_flight_skipped=1,
        error="",
        mismatches=(mismatch,),
    )
    stream = StreamRow(
        ts=5, run_id="r1", stream="user_data", state="stale", reason="silent", needs_resync=True
    )
    error = PluginErrorRow(
        ts=5,
        run_id="r1",
        plugin="p",
        hook="on_fill",
        error="ValueError: x",
        consecutive_failures=2,
        disabled=False,
    )
    stats = LogStatsRow(
        ts=5,
        run_id="r1",
        emitted=10,
        suppressed=4,
        aggregated_lines=1,
        sink_errors=0,
        top_suppressed={"m:f:1": 4},
    )
    run = RunRow(run_id="r1", started_at=1, last_seen=1, pid=42, env="test")
    await store.write([run, order, fill(1, 5), balance("100", 5), position, sample])
    await store.write([reconcile, stream, error, stats, RunSeen(run_id="r1", at=8)])
    assert await store.orders(0, 10) == [order]
    assert await store.fills(0, 10) == [fill(1, 5)]
    assert await store.balances(0, 10) == [balance("100", 5)]
    assert await store.positions_before(10) == [position]
    assert await store.samples(0, 10) == [sample]
    assert await store.reconciles(0, 10) == [reconcile]
    assert await store.stream_states(0, 10) == [stream]
    assert await store.plugin_errors(0, 10) == [error]
    assert await store.log_stats(0, 10) == [stats]
    (seen,) = await store.runs(0, 10)
    assert (seen.last_seen, seen.stopped_at, seen.pid) == (8, None, 42)
    await store.write([RunEnd(run_id="r1", stopped_at=9, stop_reason="signal SIGTERM")])
    (ended,) = await store.runs(0, 10)
    assert (ended.stopped_at, ended.stop_reason, ended.last_seen) == (9, "signal SIGTERM", 9)


async def test_windows_are_half_open_and_latest_wins(store: SQLiteStore) -> None:
    await store.write(
        [balance("1", 10), balance("2", 20), balance("3", 30), balance("7", 15, "BNB")]
    )
    assert [b.wallet_balance for b in await store.balances(10, 30)] == [D(1), D(7), D(2)]
    latest = {b.asset: b.wallet_balance for b in await store.balances_before(30)}
    assert latest == {"USDT": D(2), "BNB": D(7)}
    assert await store.balances_before(10) == []


async def test_a_fill_delivered_twice_is_stored_once(store: SQLiteStore) -> None:
    await store.write([fill(1, 5), fill(2, 6)])
    await store.write([fill(1, 5, run="r2")])  # e.g. replayed after a restart
    assert [f.trade_id for f in await store.fills(0, 10)] == [1, 2]


async def test_runs_overlapping_a_window(store: SQLiteStore) -> None:
    await store.write(
        [
            RunRow(run_id="old", started_at=0, stopped_at=5),
            RunRow(run_id="crashed", started_at=6, last_seen=12),
            RunRow(run_id="new", started_at=20),
        ]
    )
    assert [r.run_id for r in await store.runs(10, 30)] == ["crashed", "new"]
    assert [r.run_id for r in await store.runs(0, 6)] == ["old"]


async def test_a_failed_batch_is_rolled_back_whole(store: SQLiteStore) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await store.write([balance("1", 1), balance(None, 2, asset=None)])  # type: ignore[arg-type]
    assert await store.balances(0, 10) == []


async def test_upgrades_an_old_journal_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    v1 = SQLiteStore(path)
    await v1.open()
    await v1.write([balance("5", 1)])
    await v1.close()
    v2 = SQLiteStore(path, migrations=[*MIGRATIONS, "ALTER TABLE runs ADD COLUMN host TEXT"])
    await v2.open()
    try:
        assert await v2.schema_version() == len(MIGRATIONS) + 1
        assert [b.wallet_balance for b in await v2.balances(0, 10)] == [D(5)]
    finally:
        await v2.close()


async def test_refuses_a_journal_newer_than_the_code(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    newer = SQLiteStore(path, migrations=[*MIGRATIONS, "CREATE TABLE later (x INTEGER)"])
    await newer.open()
    await newer.close()
    store = SQLiteStore(path)
    with pytest.raises(JournalError, match="newer than this tradeloop"):
        await store.open()


async def test_the_trade_cursor_is_kept_at_its_highest_with_the_fills_held_after_it(
    store: SQLiteStore,
) -> None:
    assert await store.trade_cursors() == TradeCursors()  # nothing recorded yet
    await store.write([RunRow(run_id="r1", started_at=100), fill(1, 5), fill(2, 6)])
    fresh = await store.trade_cursors()
    assert fresh.cursors == {}
    assert fresh.since == 100
    assert [t for _, _, t, _ in fresh.held] == [1, 2]
    await store.write([TradeCursorRow(ts=7, symbol="BTCUSDT", trade_id=1), fill(4, 8)])
    await store.write([TradeCursorRow(ts=9, symbol="BTCUSDT", trade_id=0)])  # never back
    await store.write([RunRow(run_id="r2", started_at=200)])
    held = await store.trade_cursors()
    assert held.cursors == {"BTCUSDT": 1}
    assert held.since == 100  # the first run's start
    assert held.held == (("BTCUSDT", 7, 2, D("0.010")), ("BTCUSDT", 7, 4, D("0.010")))


async def test_a_journal_from_before_trade_cursors_starts_from_its_highest_trade(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    v5 = SQLiteStore(path, migrations=MIGRATIONS[:5])
    await v5.open()
    await v5.write([fill(3, 5), fill(9, 6)])
    await v5.close()
    v6 = SQLiteStore(path)
    await v6.open()
    try:
        assert (await v6.trade_cursors()).cursors == {"BTCUSDT": 9}  # what it answered then
        assert (await v6.trade_cursors()).held == ()
    finally:
        await v6.close()


async def test_a_kill_switch_resume_announced_twice_is_kept_once(store: SQLiteStore) -> None:
    row = KillSwitchResumeRow(
        ts=50,
        run_id="r1",
        by_whom="tradeloop resume",
        tripped_at=20,
        limit_name="daily_loss",
        reason="daily loss 310 USDT reached max_daily_loss 300 USDT",
    )
    await store.write([row])
    await store.write([msgspec.structs.replace(row, run_id="r2")])  # after a kill, again
    assert await store.kill_switch_resumes(0, 100) == [row]
