"""The journal in a real bot on the simulator: what it records, restarts, stop and SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest

from framework import DegradedStatus, ManualClock, OrderRequest, StreamState, StreamStatus
from framework.testing import BotFactory
from plugins.journal import (
    BatchWriter,
    Journal,
    JournalError,
    JournalSettings,
    RunRow,
    RunSeen,
    SQLiteStore,
)
from tests.reporting_support import DAY, DAY_START, start_bot, start_sim
from tests.support import TRADELOOP, clean_env


async def test_records_orders_fills_balances_positions_streams_and_runs(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    clock = ManualClock(DAY_START + 60)
    sim = await start_sim(clock)
    try:
        journal = Journal(JournalSettings(sample_every=60))
        sb = await start_bot(bot_factory, sim, clock, tmp_path, {"journal": journal})
        await sb.order("BTCUSDT", "BUY", "0.050")
        await sb.move("BTCUSDT", "61000")
        await clock.advance(120)
        await sb.order("BTCUSDT", "SELL", "0.020")
        await journal.flush()
        store = journal.store
        end = int((DAY_START + DAY) * 1000)
        fills = await store.fills(0, end)
        assert {(f.symbol, f.trade_id) for f in fills} == {
            (t.symbol, t.trade_id) for t in sim.engine.trades
        }
        orders = await store.orders(0, end)
        # market orders: the exchange's answer (FILLED) is applied to the cache, and the
        # stream's NEW of the same order is recorded only when it arrived first
        assert "FILLED" in {o.status for o in orders}
        assert {o.order_id for o in orders} == {t.order_id for t in sim.engine.trades}
        balances = await store.balances_before(end)
        assert [b.wallet_balance for b in balances if b.asset == "USDT"] == [
            sim.truth().balances["USDT"].wallet_balance
        ]
        positions = await store.positions_before(end)
        assert [p.amount for p in positions] == [sim.truth().positions["BTCUSDT"].amount]
        states = await store.stream_states(0, end)
        assert {(s.stream, s.state) for s in states} >= {
            ("user_data", "connected"),
            ("market", "connected"),
        }
        samples = await store.samples(0, end)
        assert samples, "the at-start sample and the interval samples"
        first = samples[0]
        assert first.equity == Decimal("10000")  # from the REST snapshot at start
        await sb.bot.stop()
        reopened = SQLiteStore(tmp_path / "journal-sim.sqlite3")
        await reopened.open()
        try:
            (run,) = await reopened.runs(0, end)
            assert run.stopped_at == int(clock.time() * 1000)
            assert run.stop_reason == "stopped"
        finally:
            await reopened.close()
    finally:
        await sim.stop()


async def test_a_restart_resumes_the_same_journal(bot_factory: BotFactory, tmp_path: Path) -> None:
    clock = ManualClock(DAY_START + 60)
    sim = await start_sim(clock)
    try:
        first = Journal()
        sb = await start_bot(bot_factory, sim, clock, tmp_path, {"journal": first})
        await sb.order("BTCUSDT", "BUY", "0.010")
        await sb.bot.stop()
        await clock.advance(600)
        second = Journal()
        sb2 = await start_bot(bot_factory, sim, clock, tmp_path, {"journal": second})
        await sb2.order("BTCUSDT", "SELL", "0.010")
        await second.flush()
        assert second.store.location == first.store.location
        runs = await second.store.runs(0, int(clock.time() * 1000) + 1)
        assert [r.run_id for r in runs] == [first.run_id, second.run_id]
        fills = await second.store.fills(0, int(clock.time() * 1000) + 1)
        assert {f.run_id for f in fills} == {first.run_id, second.run_id}
        assert len(fills) == len(sim.engine.trades)
    finally:
        await sim.stop()


async def test_stop_writes_everything_accepted(bot_factory: BotFactory, tmp_path: Path) -> None:
    """Records wait for no timer at stop: a long flush interval and a burst right before it."""
    journal = Journal(JournalSettings(flush_interval=3600, batch_size=100_000))
    bot = await bot_factory({"runtime": {"data_dir": str(tmp_path)}}, plugins={"journal": journal})
    for i in range(5000):
        bot.ctx.hooks.on_stream_state(
            StreamStatus(stream="user_data", state=StreamState.STALE, at=1.0 + i, reason=str(i))
        )
    assert journal.writer.pending >= 5000
    await bot.stop()
    store = SQLiteStore(tmp_path / "journal-sim.sqlite3")
    await store.open()
    try:
        rows = await store.stream_states(0, 10**13)
        assert [r.reason for r in rows] == [str(i) for i in range(5000)]
        (run,) = await store.runs(0, 10**13)
        assert run.stopped_at is not None
    finally:
        await store.close()


async def test_degraded_mode_is_journaled(bot_factory: BotFactory, tmp_path: Path) -> None:
    journal = Journal()
    bot = await bot_factory({"runtime": {"data_dir": str(tmp_path)}}, plugins={"journal": journal})
    bot.ctx.hooks.on_degraded(
        DegradedStatus(active=True, at=100.0, reason="user_data disconnected: closed")
    )
    bot.ctx.hooks.on_degraded(
        DegradedStatus(
            active=False,
            at=163.5,
            reason="user_data disconnected: closed",
            seconds=63.5,
            polls=12,
            weight=276,
        )
    )
    await bot.stop()
    store = SQLiteStore(tmp_path / "journal-sim.sqlite3")
    await store.open()
    try:
        rows = await store.degraded_periods(0, 10**13)
        assert [(r.ts, r.active, r.seconds, r.polls, r.weight) for r in rows] == [
            (100_000, True, 0.0, 0, 0),
            (163_500, False, 63.5, 12, 276),
        ]
        assert {r.reason for r in rows} == {"user_data disconnected: closed"}
    finally:
        await store.close()


async def test_records_wait_while_the_database_fails(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "journal.sqlite3")
    await store.open()
    writer = BatchWriter(store, batch_size=2)
    writer.add(RunRow(run_id="r", started_at=1))
    await store.close()  # the database goes away
    writer.add(RunSeen(run_id="r", at=5))
    writer.add(RunRow(run_id="s", started_at=2))
    with pytest.raises(JournalError):
        await writer.flush()
    assert writer.pending == 3
    await store.open()  # it comes back: nothing was lost, nothing written twice
    await writer.flush()
    runs = await store.runs(0, 10)
    assert [(r.run_id, r.last_seen) for r in runs] == [("r", 5), ("s", None)]
    await store.close()


def test_sigterm_stops_the_bot_with_the_journal_complete(tmp_path: Path) -> None:
    """A real ``tradeloop run`` on the embedded simulator, stopped by SIGTERM."""
    (tmp_path / "settings.yaml").write_text(
        "default:\n  plugins:\n    daily_report: {catch_up: false}\n    status: {enabled: false}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [str(TRADELOOP), "run"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = tmp_path / "data" / "journal-sim.sqlite3"
    try:
        deadline = time.monotonic() + 30
        while not _streams_connected(journal):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the bot did not connect"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    with sqlite3.connect(journal) as db:
        runs = db.execute("SELECT stopped_at, stop_reason FROM runs").fetchall()
        samples = db.execute("SELECT COUNT(*) FROM samples").fetchone()
    assert len(runs) == 1
    assert runs[0][0] is not None
    assert runs[0][1] == "signal SIGTERM"
    assert samples[0] >= 2  # the one at start and the one at stop


def _streams_connected(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with sqlite3.connect(path) as db:
            rows = db.execute(
                "SELECT DISTINCT stream FROM stream_states WHERE state = 'connected'"
            ).fetchall()
    except sqlite3.Error:
        return False
    return len(rows) == 2


async def test_the_trade_cursor_is_journaled_until_a_record_is_lost(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    """The cache's cursor is written after the fills it covers; once the journal dropped a
    record (it fell behind), it stays at the last one written, so the next start reads the
    trades after it back."""
    journal = Journal(JournalSettings(max_pending=10))
    bot = await bot_factory({"runtime": {"data_dir": str(tmp_path)}}, plugins={"journal": journal})
    bot.account.set_trade_cursor("BTCUSDT", 5)
    await journal.flush()
    assert (await journal.store.trade_cursors()).cursors == {"BTCUSDT": 5}
    for _ in range(11):  # more than max_pending at once: the oldest is dropped
        journal.writer.add(RunSeen(run_id=journal.run_id, at=1))
    assert journal.writer.dropped >= 1
    bot.account.set_trade_cursor("BTCUSDT", 9)
    await journal.flush()
    assert (await journal.store.trade_cursors()).cursors == {"BTCUSDT": 5}
    await bot.stop()


async def test_a_fill_whose_event_has_not_come_by_the_stop_is_read_back_and_journaled(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    """The exchange answered an order as filled, its trade event is not there yet when the bot
    stops: the stop reads the order's trades back, so the journal holds the fill."""
    clock = ManualClock(DAY_START + 60)
    sim = await start_sim(clock)
    try:
        journal = Journal()
        sb = await start_bot(bot_factory, sim, clock, tmp_path, {"journal": journal})
        sim.set_faults(drop_user_events=1.0)  # the stream delivers nothing from here on
        request = OrderRequest(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010")
        )
        order = await sb.bot.ctx.exchange.place_order(request)
        assert order.status == "FILLED"
        assert sb.bot.account.fill_gaps(2**62)  # answered filled, no trade event yet
        await sb.bot.stop()
        reopened = SQLiteStore(tmp_path / "journal-sim.sqlite3")
        await reopened.open()
        try:
            fills = await reopened.fills(0, 2**62)
        finally:
            await reopened.close()
        (trade,) = sim.engine.trades
        assert [(f.order_id, f.trade_id, f.client_order_id) for f in fills] == [
            (trade.order_id, trade.trade_id, order.client_order_id)
        ]
    finally:
        await sim.stop()
