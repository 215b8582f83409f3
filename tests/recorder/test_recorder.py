"""The flight recorder: what it writes, what it leaves out, rotation, torn files, off by
default, and a connector without taps reading as before."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from loguru import logger

from framework import ManualClock
from framework.testing import BotFactory, HookRecorder
from plugins.binance import BinancePlugin
from plugins.recorder.budget import CompressBudget
from plugins.recorder.format import (
    BLOCK,
    BLOCK_HEAD,
    MAGIC,
    TICKS,
    ZTICKS,
    Frame,
    Header,
    ReadStats,
    Rest,
    State,
    parts_of,
    read_records,
)
from plugins.recorder.recorder import Recorder
from plugins.recorder.settings import RecorderSettings
from plugins.sim.testing import SimBotFactory, until
from tests.strategies.helpers import move, ready, sim_settings
from tests.strategies.test_grid import grid

unzstd = zstandard.ZstdDecompressor().decompress
KEY_LIKE = re.compile(rb"[A-Za-z0-9]{40,}")  # a listenKey or an API key or secret


def payloads(path: Path) -> bytes:
    """Every block of every part, decompressed and joined (what the disk holds, readable)."""
    out = []
    for part in parts_of(path):
        data = part.read_bytes()[len(MAGIC) :]
        while data:
            tag, size = BLOCK_HEAD.unpack(data[: BLOCK_HEAD.size])
            payload = data[BLOCK_HEAD.size : BLOCK_HEAD.size + size]
            out.append(unzstd(payload) if tag in (BLOCK, ZTICKS) else payload)
            data = data[BLOCK_HEAD.size + size :]
    return b"".join(out)


async def test_the_recording_holds_frames_and_answers_but_no_secret(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    key, secret = "K3y" * 22, "S3cr3t" * 11
    settings = sim_settings(
        tmp_path,
        grid(),
        faults={"expire_listen_key_every": 5.0},
        api_key=key,
        api_secret=secret,
    )
    settings["exchange"] = {"api_key": key, "api_secret": secret}
    settings["plugins"]["recorder"] = {"enabled": True, "directory": str(tmp_path / "rec")}
    bot = await bot_factory(settings, entry_points=True, clock=manual_clock, start=False)
    states = HookRecorder().attach(bot)
    await bot.start()
    await ready(bot)
    await move(bot, "65000")
    connector: Any = getattr(bot.ctx.plugin("binance"), "connector", None)
    keys = {connector.user.listen_key}
    for _ in range(12):  # the simulator expires the key; the connector makes a new one
        await manual_clock.advance(1)
        await until(lambda: connector.user.listen_key != "")
        keys.add(connector.user.listen_key)
    await until(lambda: connector.user.listen_key_renewals >= 1)
    keys.add(connector.user.listen_key)
    summary = await bot.stop()

    assert summary["recorder"]["stored_blocks"] == 0  # a bot's rates stay in the budget
    assert summary["recorder"]["writer_cpu"] >= 0
    path = Path(summary["recorder"]["files"][0])
    assert path.parent == tmp_path / "rec"
    records = list(read_records(path))
    header = records[0]
    assert isinstance(header, Header)
    assert header.settings["exchange"]["api_key"] == "***"
    assert header.settings["exchange"]["api_secret"] == "***"
    assert header.settings["plugins"]["sim"]["api_secret"] == "***"
    frames = [r for r in records if isinstance(r, Frame)]
    answers = [r for r in records if isinstance(r, Rest)]
    assert {f.stream for f in frames} == {"market", "user_data"}
    assert summary["recorder"]["frames"] == len(frames)
    assert {(r.method, r.path) for r in answers} >= {
        ("GET", "/fapi/v1/time"),
        ("POST", "/fapi/v1/listenKey"),
        ("GET", "/fapi/v3/balance"),
        ("POST", "/fapi/v1/order"),
    }
    placed = next(r for r in answers if r.path == "/fapi/v1/order")
    assert placed.params["symbol"] == "BTCUSDT"
    assert "timestamp" in placed.params
    assert "signature" not in placed.params
    assert any(isinstance(r, State) for r in records)
    assert len(states.of("on_stream_state")) == sum(isinstance(r, State) for r in records)

    disk = payloads(path)
    assert b"listenKeyExpired" in disk  # the event is kept, its key masked
    assert b"listenkey-1" in disk
    assert b"listenkey-2" in disk
    for hidden in (key, secret, *keys):
        assert hidden
        assert hidden.encode() not in disk
    assert b"signature" not in disk
    assert KEY_LIKE.search(disk) is None


def frame(i: int) -> bytes:
    return b'{"i":%d,"noise":"%s"}' % (i, os.urandom(60).hex().encode())


def test_files_rotate_by_size_and_read_back_in_order(tmp_path: Path) -> None:
    config = RecorderSettings(max_file_bytes=64 * 1024, flush_interval=0.01, block_bytes=4096)
    recorder = Recorder(config, tmp_path, clock=lambda: 1.0, settings={"env": "t"}, version="x")
    recorder.start()
    tap = recorder.stream_frames("market")
    for i in range(3000):  # ~430 kB of frames that compress about 2x
        tap(frame(i))
    recorder.close()

    assert len(recorder.paths) >= 3
    assert all(p.stat().st_size <= 64 * 1024 + 20_000 for p in recorder.paths)
    stats = ReadStats()
    records = list(read_records(recorder.paths[0], stats))
    headers = [r for r in records if isinstance(r, Header)]
    assert [h.part for h in headers] == list(range(len(recorder.paths)))
    seen = [int(r.data.split(b",")[0][5:]) for r in records if isinstance(r, Frame)]
    assert seen == list(range(3000))
    assert stats.files == [str(p) for p in recorder.paths]
    assert stats.torn == 0
    # from a later part on: that part and the ones after it
    assert len(list(read_records(recorder.paths[2]))) < len(records)


@pytest.mark.parametrize(("budget", "stored"), [(0.0, True), (1.0, False)])
def test_blocks_over_the_compression_budget_are_stored_uncompressed_and_read_back(
    tmp_path: Path, budget: float, stored: bool
) -> None:
    config = RecorderSettings(flush_interval=0.01, block_bytes=4096, compress_budget=budget)
    recorder = Recorder(config, tmp_path, clock=lambda: 1.0, settings={}, version="x")
    recorder.start()
    tap = recorder.stream_frames("user_data")
    for i in range(400):
        tap(frame(i))
    recorder.close()

    tags = block_tags(recorder.paths[0])
    assert tags[0] == BLOCK  # the header's, always compressed
    assert set(tags[1:]) == ({TICKS} if stored else {ZTICKS})
    assert recorder.stats.stored_blocks == (len(tags) - 1 if stored else 0)
    assert recorder.stats.writer_cpu > 0
    frames = [r for r in read_records(recorder.paths[0]) if isinstance(r, Frame)]
    assert [int(r.data.split(b",")[0][5:]) for r in frames] == list(range(400))
    assert {r.stream for r in frames} == {"user_data"}


def test_the_compression_budget_refills_with_time_up_to_its_burst() -> None:
    budget = CompressBudget(0.01, burst=2.0)  # 1 % of a core, 20 ms saved up at most
    budget.refill(100.0)
    assert budget.allows()
    budget.spend(0.035)  # a block that cost 35 ms of CPU: 15 ms overdrawn
    assert not budget.allows()
    budget.refill(101.0)  # +10 ms: still 5 ms overdrawn
    assert not budget.allows()
    budget.refill(102.0)
    assert budget.allows()
    budget.refill(1000.0)  # a long quiet spell saves up no more than the burst
    assert budget.credit == pytest.approx(0.02)
    assert not CompressBudget(0.0).allows()


def block_tags(path: Path) -> list[bytes]:
    """The tag of every block of ``path``, in order."""
    data, tags = path.read_bytes()[len(MAGIC) :], []
    while data:
        tag, size = BLOCK_HEAD.unpack(data[: BLOCK_HEAD.size])
        tags.append(tag)
        data = data[BLOCK_HEAD.size + size :]
    return tags


def test_a_torn_last_block_is_skipped_and_counted(tmp_path: Path) -> None:
    config = RecorderSettings(flush_interval=0.01, block_bytes=4096)
    recorder = Recorder(config, tmp_path, clock=lambda: 1.0, settings={}, version="x")
    recorder.start()
    tap = recorder.stream_frames("user_data")
    for i in range(3000):
        tap(frame(i))
    recorder.close()
    path = recorder.paths[0]
    whole = [r for r in read_records(path) if isinstance(r, Frame)]
    path.write_bytes(path.read_bytes()[:-7])  # killed while writing its last block
    stats = ReadStats()
    frames = [r for r in read_records(path, stats) if isinstance(r, Frame)]
    assert stats.torn == 1
    assert len(whole) == 3000
    assert 0 < len(frames) < 3000
    assert frames == whole[: len(frames)]


async def test_off_by_default_and_no_tap_leaves_the_read_path_as_it_was(
    sim_bot: SimBotFactory, tmp_path: Path
) -> None:
    bot = await sim_bot(entry_points=True)
    plugin = bot.ctx.plugin("binance")
    assert isinstance(plugin, BinancePlugin)
    assert plugin.connector is not None
    assert bot.ctx.plugin("recorder") is None
    assert bot.ctx.frame_taps == ()
    for market in plugin.connector.markets:
        assert market.runner._on_message == market.handle  # no wrapper: nothing per frame
        assert market.runner._tap is None
    user = plugin.connector.user
    assert user is not None
    assert user.runner._on_message == user.handle
    assert user.runner._tap is None
    assert plugin.connector.rest.taps == ()
    summary = await bot.stop()
    assert "recorder" not in summary
    assert not await asyncio.to_thread(lambda: list(tmp_path.rglob("*.tlrec")))


async def test_on_the_system_clock_frames_keep_their_order_and_get_times(
    tmp_path: Path,
) -> None:
    config = RecorderSettings(flush_interval=0.01, stamp_interval=0.001)
    recorder = Recorder(config, tmp_path, clock=None, settings={}, version="x")
    before = time.time()
    await asyncio.to_thread(recorder.start)
    market = recorder.stream_frames("market")  # bare bytes, times from the marks
    user = recorder.stream_frames("user_data")  # its own monotonic time
    sent, arrived = [], []
    for i in range(60):
        stream, tap = ("user_data", user) if i % 3 == 0 else ("market", market)
        early = time.time()
        tap(frame(i))
        arrived.append((early, time.time()))
        sent.append((stream, i))
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.05)  # the writer has written all
    written = recorder.stats.bytes_written
    await asyncio.sleep(0.1)  # a quiet spell: nothing to write, not even time marks
    assert recorder.stats.bytes_written == written
    await asyncio.to_thread(recorder.close)
    after = time.time()
    frames = [r for r in read_records(recorder.paths[0]) if isinstance(r, Frame)]
    assert [(f.stream, int(f.data.split(b",")[0][5:])) for f in frames] == sent
    assert recorder.stats.frames == 60
    times = [f.at for f in frames]
    assert times == sorted(times)
    assert before - 0.01 <= times[0]
    assert times[-1] <= after
    assert times[-1] - times[0] >= 0.1  # 59 sleeps of at least 2 ms, less a mark's 1 ms
    for f, (early, late) in zip(frames, arrived, strict=True):
        assert f.at <= late + 0.001  # a bare frame's mark was read before it arrived
        if f.stream == "user_data":  # its own time, when it arrived
            assert early - 0.001 <= f.at


@pytest.mark.parametrize("system_clock", [True, False])
async def test_every_listen_key_in_user_data_is_masked_wherever_it_stands(
    tmp_path: Path, system_clock: bool
) -> None:
    """The tap's cheap check (a ``K`` in the frame first) lets no listenKey through: the field
    first, last, spaced, nested, twice; frames without one are kept byte for byte."""
    key1, key2 = b"Ab1" * 20, b"zY9" * 20
    carrying = [
        b'{"e":"listenKeyExpired","E":1,"listenKey":"' + key1 + b'"}',
        b'{"listenKey":"' + key2 + b'","E":2,"e":"listenKeyExpired"}',
        b'{"E":3, "listenKey" : "' + key1 + b'", "e":"listenKeyExpired"}',
        b'{"e":"X","o":{"listenKey":"' + key2 + b'"},"listenKey":"' + key1 + b'"}',
    ]
    plain = [
        b'{"e":"ORDER_TRADE_UPDATE","o":{"s":"KAVAUSDT","c":"listenkey"}}',  # a K, no key
        b'{"e":"ACCOUNT_UPDATE","a":{"m":"ORDER","B":[]}}',  # no K at all
    ]
    clock = None if system_clock else ManualClock(1_700_000_000.0).time
    config = RecorderSettings(flush_interval=0.01)
    recorder = Recorder(config, tmp_path, clock=clock, settings={}, version="x")
    await asyncio.to_thread(recorder.start)
    user = recorder.stream_frames("user_data")
    for data in [*carrying, *plain]:
        user(data)
    await asyncio.to_thread(recorder.close)
    frames = [r.data for r in read_records(recorder.paths[0]) if isinstance(r, Frame)]
    disk = payloads(recorder.paths[0])
    assert key1 not in disk
    assert key2 not in disk
    assert frames == [
        b'{"e":"listenKeyExpired","E":1,"listenKey":"listenkey-1"}',
        b'{"listenKey":"listenkey-2","E":2,"e":"listenKeyExpired"}',
        b'{"E":3, "listenKey":"listenkey-1", "e":"listenKeyExpired"}',
        b'{"e":"X","o":{"listenKey":"listenkey-2"},"listenKey":"listenkey-1"}',
        *plain,
    ]


class FailingTap:
    """A frame tap whose stream callables raise on every frame they get."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def stream_frames(self, stream: str) -> Callable[[bytes], None]:
        def tap(data: bytes) -> None:
            self.seen.append(stream)
            raise RuntimeError("tap broke")

        return tap

    def rest_sent(self) -> float:
        return 0.0

    def rest_answered(self, *args: Any) -> None:
        return None


async def test_a_failing_tap_is_logged_and_the_message_is_still_handled(
    sim_bot: SimBotFactory,
) -> None:
    bot = await sim_bot(entry_points=True, start=False)
    tap = FailingTap()
    bot.ctx.add_frame_tap(tap)
    await bot.start()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    try:
        bot.ctx.last_ticks.clear()
        # ticks reach the bot although the tap raised on every frame
        await until(lambda: "market" in tap.seen and bool(bot.ctx.last_ticks))
    finally:
        logger.remove(sink)
    await bot.stop()
    assert any("frame tap failed: RuntimeError('tap broke')" in line for line in lines)
