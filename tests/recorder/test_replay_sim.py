"""A live run against the simulator, recorded, then replayed: the same fills, reconcile results
and final cache."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from framework import BotContext, ManualClock, ReconcileResult, hookimpl
from framework.testing import BotFactory, HookRecorder
from plugins.recorder.format import (
    MAGIC,
    Frame,
    Header,
    Outcome,
    Rest,
    Sent,
    State,
    Stop,
    encode_block,
    read_records,
)
from plugins.recorder.replay import replay_file
from plugins.recorder.testing import replay_recording
from plugins.sim.testing import until
from tests.strategies.helpers import move, ready, sim_settings
from tests.strategies.test_grid import book, cached, grid, ladder

# Lost, duplicated and reordered user events (reconciliation repairs the cache), listenKeys that
# expire (a new key, a new socket) and dropped connections (reconnects, resyncs).
FAULTS = {
    "drop_user_events": 0.3,
    "duplicate_user_events": 0.2,
    "reorder_user_events": 0.2,
    "expire_listen_key_every": 20.0,
    "disconnect_every": 25.0,
}


def recording_settings(
    tmp_path: Path, faults: dict[str, Any] | None = None, plugins: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The grid on the embedded simulator, reconciliation on, the recorder on (and
    ``plugins``' blocks)."""
    settings = sim_settings(tmp_path, grid(), faults=faults or {})
    settings["plugins"]["recorder"] = {"enabled": True, "flush_interval": 0.05}
    settings["plugins"]["reconciliation"] = {"interval": 60}
    settings["plugins"].update(plugins or {})
    return settings


async def record_grid_run(
    bot_factory: BotFactory,
    manual_clock: ManualClock,
    tmp_path: Path,
    faults: dict[str, Any] | None = None,
    plugins: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Trade the grid through fills, a replacement, a re-centre and the stop; the recording
    and the run summary."""
    bot = await bot_factory(
        recording_settings(tmp_path, faults, plugins),
        entry_points=True,
        clock=manual_clock,
        start=False,
    )
    results = HookRecorder().attach(bot)
    await bot.start()
    sim = await ready(bot)
    await move(bot, "65000")
    expected = ladder("B64990", "B64980", "S65010", "S65020")
    await until(lambda: book(sim) == expected and cached(bot) == expected)
    await move(bot, "64985")  # the buy at 64990 fills; a sell replaces it
    expected = ladder("B64980", "S65000", "S65010", "S65020")
    await until(lambda: book(sim) == expected and cached(bot) == expected)
    await move(bot, "65055")  # three sells fill
    await until(lambda: len(book(sim)) == 4 and cached(bot) == book(sim))
    for _ in range(120):  # a scheduled reconcile (its re-checks sleep) and the re-centring
        await manual_clock.advance(1)
        if len(results.of("on_reconcile_result")) >= 2:
            break
    await until(lambda: cached(bot) == book(sim) and len(book(sim)) == 4)
    summary = await bot.stop()
    files = summary["recorder"]["files"]
    assert len(files) == 1
    return Path(files[0]), summary


@pytest.mark.parametrize("faults", [{}, FAULTS], ids=["clean", "faults"])
async def test_a_replayed_run_equals_the_live_run(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path, faults: dict[str, Any]
) -> None:
    path, live = await record_grid_run(bot_factory, manual_clock, tmp_path, faults)
    records = list(read_records(path))
    assert isinstance(records[0], Header)
    assert isinstance(records[-1], Outcome)
    assert any(isinstance(r, Stop) for r in records)
    recorded = records[-1].outcome
    assert len(recorded["fills"]) == live["fills"] >= 4
    assert len(recorded["reconcile"]) >= 2

    result = await replay_recording(path)

    assert result.differences == []
    assert result.outcome == recorded
    assert result.unanswered == []
    assert result.frames == sum(isinstance(r, Frame) for r in records)
    assert result.rest == sum(isinstance(r, Rest) for r in records)
    assert result.summary["fills"] == live["fills"]
    assert result.summary["cache"] == live["cache"]
    assert result.summary["realized_pnl"] == live["realized_pnl"]


async def test_a_run_with_the_journal_replays_without_the_journals_requests(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    # The journal (on by default, off in a replay) reads the account when it starts; the
    # replay used to wait for that request and diverge ("the bot did not send GET
    # /fapi/v1/time"). Its requests are recorded with their owner and left out.
    journal = {"journal": {"enabled": True, "snapshot_at_start": True}}
    path, live = await record_grid_run(bot_factory, manual_clock, tmp_path, plugins=journal)
    records = list(read_records(path))
    owners = [r.owner for r in records if isinstance(r, Sent)]
    assert "journal" in owners
    assert "" in owners  # the bot's own requests: the start, the strategies, reconciliation
    journals = [r for r in records if isinstance(r, Rest) and r.owner == "journal"]
    assert sorted(r.path for r in journals) == sorted(
        ["/fapi/v1/time", "/fapi/v3/balance", "/fapi/v3/positionRisk"]  # its snapshot
    )

    result = await replay_recording(path)

    assert result.differences == []
    assert result.not_run == len(journals)
    assert result.unanswered == []
    assert result.rest == sum(isinstance(r, Rest) for r in records) - len(journals)
    assert result.summary["fills"] == live["fills"]


class FailsToStart:
    """Fails its start after the connector's, as ``daily_report`` does without a journal."""

    start_priority = 200

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        return self._fail()

    @contextlib.asynccontextmanager
    async def _fail(self) -> AsyncIterator[None]:
        raise RuntimeError("cannot start")
        yield  # pragma: no cover - an async generator's shape


async def test_a_request_no_record_answers_while_the_bot_starts_is_refused_and_listed(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    # The live start failed before the strategy warmed up; the replayed bot (without the
    # failing plugin) asks for candles the recording never got. It used to wait out its
    # timeouts (30 s, the warm-up's budget) and then report the run equal, the requests unlisted.
    ma_strategy = {
        "id": "ma",
        "use": "ma_crossover",
        "params": {"symbol": "BTCUSDT", "fast": 2, "slow": 4, "warm_up": "1m"},
    }
    settings = sim_settings(tmp_path, ma_strategy)
    settings["plugins"]["recorder"] = {"enabled": True, "flush_interval": 0.05}
    bot = await bot_factory(
        settings,
        plugins={"fails": FailsToStart()},
        clock=manual_clock,
        entry_points=True,
        start=False,
    )
    with pytest.raises(Exception, match="cannot start"):
        await bot.start()
    (path,) = (tmp_path / "recordings").glob("*.tlrec")
    assert not any(isinstance(r, Rest) and "klines" in r.path for r in read_records(path))

    result = await asyncio.wait_for(replay_recording(path, within=5.0), timeout=120)

    assert any("/fapi/v1/klines" in request for request in result.unanswered)


async def test_the_shutdowns_answers_are_not_held_back_by_frames_it_no_longer_takes(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    """A real-time run's shutdown interleaves frames with its requests (the grid's cancels).
    When the market connection dropped as the bot stopped and the live connector still took
    frames on its new one, the replayed connector (its reconnect waits on the manual clock)
    no longer takes them: they are skipped at once, so the cancels are answered within the
    shutdown's budget (runtime.shutdown_timeout), and the replay ends as the live run did.
    Sending each and waiting for it to be taken (0.5 s a frame) held the cancels back past
    the budget: the replay kept the grid's 4 orders open (d8f9012)."""
    path, _ = await record_grid_run(bot_factory, manual_clock, tmp_path)
    records = list(read_records(path))
    stop = next(i for i, r in enumerate(records) if isinstance(r, Stop))
    ticks = [r for r in records[:stop] if isinstance(r, Frame) and r.stream == "market"]
    assert ticks
    at, mono_ns = records[stop].at, records[stop].mono_ns  # type: ignore[union-attr]
    dropped = State(at, mono_ns, "market", "disconnected", "closed by the exchange", False)
    late = [Frame("market", at, mono_ns + n, ticks[n % len(ticks)].data) for n in range(16)]
    edited = tmp_path / "edited.0.tlrec"
    body = [*records[: stop + 1], dropped, *late, *records[stop + 1 :]]
    edited.write_bytes(MAGIC + encode_block(body))
    live = records[-1]
    assert isinstance(live, Outcome)
    assert live.outcome["cache"]["open_orders"] == []

    result = await replay_recording(edited)

    assert result.differences == []
    assert result.outcome == live.outcome
    assert result.unanswered == []
    assert result.skipped == len(late)


class SnapshotAtLastReconcile:
    """Reads the account (a task of its own, as a reconcile is) once the replay has delivered
    the live run's last reconcile result, just before the stop: the live run never made
    those requests, as a reconcile due just before a real-time run's stop did not."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.seen = 0

    @hookimpl
    def on_reconcile_result(self, ctx: BotContext, result: ReconcileResult) -> None:
        self.seen += 1
        if self.seen == self.after:
            ctx.spawn(ctx.exchange.fetch_account_snapshot(), name="snapshot", owner="test")


async def test_requests_of_tasks_the_stop_cancelled_take_no_recorded_answer(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    """The replayed bot begins a request the live one did not (an account read of a task the
    stop cancels) just before the stop: it must not take the shutdown's recorded answers
    (the grid's account read at stop), or the grid's cancels go unanswered."""
    path, _ = await record_grid_run(bot_factory, manual_clock, tmp_path)
    live = list(read_records(path))[-1]
    assert isinstance(live, Outcome)
    extra = SnapshotAtLastReconcile(after=len(live.outcome["reconcile"]))

    result = await replay_file(path, settle=50, plugins={"late-snapshot": extra})

    assert extra.seen == len(live.outcome["reconcile"])
    assert result.differences == []
    assert result.outcome == live.outcome
