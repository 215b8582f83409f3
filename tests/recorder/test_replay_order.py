"""A replay follows the recorded interleaving of the bot's requests with the frames: the frames
recorded after a request left wait until the replayed bot has sent it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from framework import BotContext, ManualClock, Tick, hookimpl
from framework.testing import BotFactory
from plugins.recorder.format import (
    MAGIC,
    Anchor,
    Bare,
    Frame,
    Header,
    Outcome,
    Record,
    Rest,
    Sent,
    encode_block,
    read_records,
)
from plugins.recorder.replay import ReplayDiverged, replay_file
from plugins.recorder.testing import replay_recording
from plugins.sim.testing import until
from tests.recorder.test_replay_sim import record_grid_run
from tests.strategies.helpers import SYMBOL, move, ready, sim_settings

CHEAP = Decimal("65050")


class ReadsAccountWhileCheap:
    """On the first tick below ``CHEAP``, a task of its own looks at the latest price after
    ``passes`` loop passes and reads the account if it is still below: what it sends depends on
    which frames the connector had taken when the task ran, which is host timing."""

    def __init__(self, passes: int) -> None:
        self.passes = passes
        self.armed = True
        self.seen: Decimal | None = None  # the price the task saw
        self.read = False

    @hookimpl
    def on_tick(self, ctx: BotContext, tick: Tick) -> None:
        if self.armed and tick.symbol == SYMBOL and tick.mid < CHEAP:
            self.armed = False
            ctx.spawn(self._check(ctx), name="check", owner="late-reader")

    async def _check(self, ctx: BotContext) -> None:
        for _ in range(self.passes):
            await asyncio.sleep(0)
        self.seen = ctx.last_ticks[SYMBOL].mid
        if self.seen < CHEAP:
            await ctx.exchange.fetch_account_snapshot()
            self.read = True


def rewrite(path: Path, records: list[Record]) -> Path:
    """``records`` as a recording next to ``path``."""
    edited = path.with_name("edited.0.tlrec")
    edited.write_bytes(MAGIC + encode_block(records))
    return edited


async def test_frames_after_a_request_wait_until_the_replayed_bot_sent_it(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    """Live, the task read the account at 65,000 and the price rose to 65,100 before the
    answers came (a slow answer on a busy host: the answers are recorded after the frame).
    The replayed task runs later than the live one did (here: 30 loop passes, more than the
    replay lets the bot run after a frame). Without the ``Sent`` markers the replay sent the
    65,100 frame first: the task saw it, read nothing, and the replay diverged at the answers
    (``the bot did not send GET /fapi/v2/balance``)."""
    live_reader = ReadsAccountWhileCheap(passes=0)
    settings = sim_settings(tmp_path)  # no strategy: the reader's requests only
    settings["plugins"]["recorder"] = {"enabled": True, "flush_interval": 0.05}
    bot = await bot_factory(
        settings,
        entry_points=True,
        clock=manual_clock,
        start=False,
        plugins={"late-reader": live_reader},
    )
    await bot.start()
    await ready(bot)
    await move(bot, "65000")
    await until(lambda: live_reader.read)
    await move(bot, "65100")
    summary = await bot.stop()
    path = Path(summary["recorder"]["files"][0])

    records = list(read_records(path))
    up = next(i for i, r in enumerate(records) if isinstance(r, Frame) and b"65100" in r.data)
    down = max(i for i, r in enumerate(records[:up]) if isinstance(r, Frame) and b"65000" in r.data)
    answers = [i for i in range(down, up) if isinstance(records[i], Rest)]
    assert len(answers) >= 3  # balance, positions, open orders
    first = answers[0]
    racy = [*records[:first], records[up], *records[first:up], *records[up + 1 :]]
    replay_reader = ReadsAccountWhileCheap(passes=30)

    result = await replay_recording(
        rewrite(path, racy), within=2.0, plugins={"late-reader": replay_reader}
    )

    assert replay_reader.read
    assert result.differences == []
    assert result.unanswered == []
    assert result.rest == sum(isinstance(r, Rest) for r in records)


async def test_every_request_is_marked_where_it_left(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    """One ``Sent`` marker per request, before its answer, at the bot's clock it left at."""
    path, _ = await record_grid_run(bot_factory, manual_clock, tmp_path)
    records = list(read_records(path))
    assert records[0] == msgspec.structs.replace(records[0], version=3)
    marked: list[float] = []
    answered = 0
    for record in records:
        if isinstance(record, Sent):
            marked.append(record.at)
        elif isinstance(record, Rest):
            answered += 1
            assert record.sent_at in marked
            marked.remove(record.sent_at)
    assert answered > 10
    assert marked == []  # every request the run sent was answered


async def test_a_recording_without_markers_still_replays(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    """A version 2 recording (no ``Sent`` markers) replays as before."""
    path, _ = await record_grid_run(bot_factory, manual_clock, tmp_path)
    records = list(read_records(path))
    header = records[0]
    assert isinstance(header, Header)
    old: list[Record] = [msgspec.structs.replace(header, version=2)]
    old += [r for r in records[1:] if not isinstance(r, Sent)]
    assert len(old) < len(records)
    live = records[-1]
    assert isinstance(live, Outcome)

    result = await replay_recording(rewrite(path, old))

    assert result.differences == []
    assert result.outcome == live.outcome
    assert result.unanswered == []


async def test_a_marked_request_the_bot_does_not_send_is_a_divergence_named_there(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    """The replay stops at the marker (nothing after it is sent) and names the request by its
    recorded answer."""
    path, _ = await record_grid_run(bot_factory, manual_clock, tmp_path)
    records = list(read_records(path))
    at = next(i for i, r in enumerate(records) if isinstance(r, Frame))
    template = records[at]
    assert isinstance(template, Frame)
    odd = Rest(
        sent_at=template.at,
        at=template.at,
        mono_ns=template.mono_ns,
        method="GET",
        path="/fapi/v1/nothingLikeThis",
        params={"symbol": "BTCUSDT"},
        status=200,
        body=b"{}",
    )
    marker = Sent(template.at, template.mono_ns)
    edited = rewrite(path, [*records[:at], marker, odd, *records[at:]])

    with pytest.raises(ReplayDiverged) as info:
        await replay_recording(edited, within=0.5)
    assert f"record {at}" in str(info.value)
    assert "the bot did not send GET /fapi/v1/nothingLikeThis {'symbol': 'BTCUSDT'}" in str(
        info.value
    )


@pytest.mark.parametrize("stamped", [True, False], ids=["time-marks", "writer-anchors-only"])
async def test_frames_that_came_in_one_loop_pass_go_together(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path, stamped: bool
) -> None:
    """On the system clock, no time mark between two frames means the live loop did not pass
    the recorder's timer between them: the connector may have taken both before the task the
    first one woke ran. Live, the reader's task (woken at 65,000) ran after the 65,100 frame
    too and read nothing. Sent one at a time with the bot let run after each, as before, the
    replayed task ran between them, saw 65,000 and read the account: requests the recording
    does not hold. Without a ``Bare`` record (no market stream: no loop timer) the anchors are
    the writer's, one per block, and say nothing of loop passes: frames go one at a time."""
    settings = sim_settings(tmp_path)
    settings["plugins"]["recorder"] = {"enabled": True, "flush_interval": 0.05}
    bot = await bot_factory(settings, entry_points=True, clock=manual_clock, start=False)
    await bot.start()
    await ready(bot)
    await move(bot, "65000")
    await move(bot, "65100")
    summary = await bot.stop()
    path = Path(summary["recorder"]["files"][0])

    records = list(read_records(path))
    down = next(i for i, r in enumerate(records) if isinstance(r, Frame) and b"65000.00" in r.data)
    up = next(i for i, r in enumerate(records) if isinstance(r, Frame) and b"65100.00" in r.data)
    between = records[down + 1 : up]
    assert all(isinstance(r, Frame) and r.stream == "market" for r in between)
    # A system-clock recording: a time mark before every frame but the 65,100 one.
    marked: list[Record | Anchor | Bare] = [records[0]]
    if stamped:
        marked.append(Bare("market"))
    for i, record in enumerate(records[1:], start=1):
        if isinstance(record, Frame) and not down < i <= up:
            marked.append(Anchor(record.at, record.mono_ns))
        marked.append(record)
    edited = path.with_name("edited.0.tlrec")
    edited.write_bytes(MAGIC + encode_block(marked))
    reader = ReadsAccountWhileCheap(passes=0)

    # Enough loop passes after each send for the task to run between the frames, were they
    # sent apart.
    result = await replay_file(edited, within=2.0, settle=50, plugins={"late-reader": reader})

    assert reader.seen is not None
    if stamped:
        assert reader.seen > CHEAP  # it ran after the 65,100 frame, as live
        assert result.unanswered == []
        assert result.differences == []
    else:
        assert reader.seen < CHEAP  # it ran between the frames
