"""``tradeloop replay``: a recording fed through the real bot on a manual clock.

The bot is built from the recording's settings (its strategies, the ``binance`` connector,
reconciliation; nothing that writes files or talks to the outside: journal, reports, http,
webhook, status, logging, the simulator and the recorder are off) and pointed at a
``ReplayServer`` on loopback. The ``Driver`` then walks the recording in order:

* a ``Frame``: the clock is moved to the frame's receive time, the frame is sent on its stream's
  socket, and the driver waits until the connector has taken it (the replay's frame tap), then
  lets the tasks it woke run; frames the live connector took in one go (the busiest market
  stream's frames under one time mark) are sent together, as they came;
* a ``Rest`` answer: the driver waits for the bot to send the same request (method, path and
  parameters, without timestamp and signature; meanwhile the clock wakes the sleepers due by
  the time the live request left, and no later), moves the clock to the answer's time, answers
  with the recorded status and body and waits until the connector has read it;
* a ``Sent`` marker (version 3: the live bot sent a request here): nothing after it goes out
  until the replayed bot has sent as many requests (meanwhile the clock wakes the sleepers
  due by the marker's time), so a task that runs later than live sees the frames it saw;
* a ``State`` of a dropped connection: that socket is closed (the connector reconnects);
* ``Stop`` (written live when the stop cancelled the spawned tasks): the bot is stopped here,
  without moving the clock, and once its stop has cancelled its spawned tasks too, the rest
  (its shutdown's requests) is served: each request gets the first unused recorded answer that
  matches it, in any order (which of the shutdown's tasks ends first is up to timing), except
  those of tasks the stop cancelled (their connection closed); frames are sent, not waited for,
  and ``Sent`` markers are passed over.

Client order ids the bot makes in the replay differ from the live ones when the clock read at
the first order differs; each recorded id is mapped to the bot's new one at the request that
carries it, and replaced in every later answer and user-data frame. The outcome compares in the
live run's ids.

Nothing waits for recorded time to pass: the replay runs as fast as the loop can go. A request
the bot does not make, or a frame the connector does not take, within ``within`` seconds of
real time is a divergence (``ReplayDiverged``, naming the record).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from loguru import logger

from framework import BotContext, ExchangeEndpoint, Fill, ReconcileResult, hookimpl
from framework.clock import ManualClock
from framework.errors import TradeloopError
from framework.loader import load_plugins
from framework.runtime import Bot
from framework.settings import Settings, load_settings

from .format import (
    Anchor,
    Frame,
    Header,
    Outcome,
    ReadStats,
    Record,
    RecordingError,
    Rest,
    Sent,
    State,
    Stop,
    header_of,
    read_marked,
)
from .outcome import cache_of, differences, fill_row, outcome_of, reconcile_row
from .replay_server import ID_PARAMS, VOLATILE, Pending, ReplayServer

NAME = "replay_exchange"  # the in-code plugin (the entry point "replay" adds the command)
# Off in a replay: they write files, talk to the outside, or are replaced by the replay.
OFF = (
    "sim",
    "recorder",
    "journal",
    "daily_report",
    "status",
    "http",
    "webhook",
    "smart_logging",
)
DOWN = frozenset({"disconnected", "stale"})
STOP_PATIENCE = 0.5  # seconds to wait for the bot while it stops (see Driver._patience)
POLL = 0.005  # seconds between looks for a sleeper the bot began while a request is awaited
REPLAY_KEY = "tl-replay-demo-key-0000000000000000"  # a demo credential, as the sim's
# The connector reconnects at once in a replay (a dropped live socket is replayed as a close).
FAST_RECONNECT = {"reconnect_base": 0.01, "reconnect_cap": 0.05}


class ReplayDiverged(TradeloopError):
    """The bot did not do what the recording says it did."""


class UnreadableRecording(TradeloopError):
    """The file is not a recording this version reads (exit 2)."""

    exit_code = 2


@dataclass
class ReplayResult:
    """What a replay did and ended with."""

    outcome: dict[str, Any]
    """This replay's fills, reconcile results and final cache (``outcome.outcome_of``)."""
    live: dict[str, Any] | None
    """The live run's, from the recording (``None``: the run did not end cleanly)."""
    frames: int = 0
    rest: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    torn_blocks: int = 0
    unanswered: list[str] = field(default_factory=list)
    skipped: int = 0
    """Records of the shutdown the replayed bot did not take (it stopped a task sooner)."""
    not_run: int = 0
    """Requests the live run sent from a plugin the replay turns off (``OFF``: the journal's
    account snapshot, ...): not waited for, their answers unused."""
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def differences(self) -> list[str]:
        """How the replay's outcome differs from the live run's (empty: equal, or no live)."""
        return differences(self.live, self.outcome) if self.live is not None else []

    @property
    def messages_per_second(self) -> float:
        """Frames and REST answers replayed per second of wall time."""
        return (self.frames + self.rest) / self.seconds if self.seconds > 0 else 0.0


class IdMap:
    """Live client order ids -> the replay's, and back."""

    def __init__(self) -> None:
        self.to_replay: dict[str, str] = {}
        self.to_live: dict[str, str] = {}
        self._pairs: list[tuple[bytes, bytes]] = []

    def learn(self, live: str, replay: str) -> None:
        """``live`` is ``replay`` from now on."""
        if live and replay and live != replay and live not in self.to_replay:
            self.to_replay[live] = replay
            self.to_live[replay] = live
            self._pairs.append((live.encode(), replay.encode()))

    def bytes(self, data: bytes) -> bytes:
        """``data`` with every known live id replaced by the replay's."""
        for live, replay in self._pairs:
            if live in data:
                data = data.replace(live, replay)
        return data

    def live(self, client_order_id: str) -> str:
        """The live id of a replay id (itself when not mapped)."""
        return self.to_live.get(client_order_id, client_order_id)


class ReplayPlugin:
    """Publishes the replay server as the exchange, counts what the connector takes, and keeps
    the replay's fills and reconcile results."""

    start_priority = 50  # where the simulator would start: before the connector

    def __init__(self, server: ReplayServer, ids: IdMap) -> None:
        self.server = server
        self.ids = ids
        self.taken: dict[str, int] = {}
        self._waiting: dict[str, tuple[int, asyncio.Future[None]]] = {}
        self.fills: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []
        self.ctx: BotContext | None = None
        self.answered = 0
        self.sent = 0  # requests the connector sent
        self.sending = asyncio.Event()  # set at each
        self._answer_wait: tuple[int, asyncio.Future[None]] | None = None
        self.stop_seen = asyncio.Event()  # set when the stop cancels the spawned tasks

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Publish the server (with the bot's manual clock as the exchange's) and tap frames."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        self.ctx = ctx
        self.server.label_markets(ctx.subscribed_symbols())
        ctx.publish_exchange_endpoint(
            ExchangeEndpoint(
                self.server.rest_url,
                self.server.ws_url,
                api_key=REPLAY_KEY,
                api_secret=REPLAY_KEY,
                clock=ctx.clock.time,
                provider=NAME,
            )
        )
        ctx.add_frame_tap(self)
        self.stop_seen = asyncio.Event()
        ctx.spawn(_see_stop(self.stop_seen), name="replay:stop-marker", owner=NAME)
        try:
            yield
        finally:
            ctx.remove_frame_tap(self)
            ctx.publish_exchange_endpoint(None)

    # --------------------------------------------------------------------- FrameTap

    def stream_frames(self, stream: str) -> Callable[[bytes], None]:
        """Count what the connector takes from ``stream``; wake the driver waiting for it."""
        taken = self.taken
        taken.setdefault(stream, 0)
        waiting = self._waiting

        def took(data: bytes) -> None:
            count = taken[stream] = taken[stream] + 1
            wait = waiting.get(stream)
            if wait is not None and count >= wait[0] and not wait[1].done():
                wait[1].set_result(None)

        return took

    def rest_sent(self) -> float:
        """Count the requests the connector sends (a ``Sent`` marker waits for its own)."""
        self.sent += 1
        self.sending.set()
        return 0.0

    def rest_answered(
        self,
        stamp: float,
        method: str,
        path: str,
        params: Mapping[str, str],
        status: int,
        body: bytes,
    ) -> None:
        """Count the answers the connector has read; wake the driver waiting for one."""
        self.answered += 1
        wait = self._answer_wait
        if wait is not None and self.answered >= wait[0] and not wait[1].done():
            wait[1].set_result(None)

    async def answered_by(self, count: int, within: float) -> None:
        """Until the connector has read ``count`` REST answers."""
        if self.answered >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._answer_wait = (count, future)
        try:
            async with asyncio.timeout(within):
                await future
        finally:
            self._answer_wait = None

    async def taken_by(self, stream: str, count: int, within: float) -> None:
        """Until the connector has taken ``count`` frames of ``stream``."""
        if self.taken.get(stream, 0) >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[stream] = (count, future)
        try:
            async with asyncio.timeout(within):
                await future
        finally:
            self._waiting.pop(stream, None)

    # ------------------------------------------------------------------- outcome

    @hookimpl
    def on_fill(self, fill: Fill) -> None:
        """Keep the fill (in the live run's client order ids)."""
        self.fills.append(fill_row(fill, self.ids.live))

    @hookimpl
    def on_reconcile_result(self, result: ReconcileResult) -> None:
        """Keep the result."""
        self.results.append(reconcile_row(result))

    def outcome(self) -> dict[str, Any]:
        """The replay's outcome, in the live run's client order ids."""
        assert self.ctx is not None
        return outcome_of(self.fills, self.results, cache_of(self.ctx.cache, self.ids.live))


class Driver:
    """Walks the recording and plays the exchange's part (see the module doc)."""

    def __init__(
        self,
        records: Iterator[Record | Anchor],
        server: ReplayServer,
        plugin: ReplayPlugin,
        clock: ManualClock,
        bot: Bot,
        *,
        within: float,
        settle: int,
    ) -> None:
        self.records = records
        self.server = server
        self.plugin = plugin
        self.clock = clock
        self.bot = bot
        self.within = within
        self.settle = settle
        self.ids = plugin.ids
        self.sent: dict[str, int] = {}
        self.frames = 0
        self.rest = 0
        self.index = 0
        self.markers = 0  # ``Sent`` markers met so far
        self.marked = False  # the recording has time marks (the system clock's)
        self.live: dict[str, Any] | None = None
        self.stopping: asyncio.Task[dict[str, Any]] | None = None
        self.starting: asyncio.Task[None] | None = None
        self.skipped = 0  # records of the shutdown the replayed bot no longer took
        self.not_run = 0  # requests of plugins turned off (``OFF``), left out
        self.refused: list[str] = []  # requests no record could answer, refused while starting

    async def run(self, starting: asyncio.Task[None]) -> None:
        """Play every record; stop the bot at the ``Stop`` record (or at the end)."""
        self.starting = starting
        batch: list[Frame] = []
        index = 0
        for record in self.records:
            kind = type(record)
            if kind is Frame:
                assert isinstance(record, Frame)
                if (
                    batch
                    and not self.marked
                    and (record.mono_ns != batch[0].mono_ns or record.stream != batch[0].stream)
                ):
                    await self._frames(batch)
                    batch = []
                batch.append(record)
                self.index = index
                index += 1
                continue
            if batch:
                await self._frames(batch)
                batch = []
            if kind is Anchor:  # a time mark: the frames after it came in a later loop pass
                self.marked = True
                continue
            self.index = index
            index += 1
            if kind is Rest:
                assert isinstance(record, Rest)
                await self._rest(record)
            elif kind is Sent:
                assert isinstance(record, Sent)
                if record.owner in OFF:
                    self.not_run += 1  # the replayed bot never sends it
                else:
                    await self._sent(record)
            elif kind is State:
                assert isinstance(record, State)
                if record.state in DOWN:
                    await self.server.drop(record.stream)
            elif kind is Stop:
                remaining = list(self.records)
                await self._started(starting, remaining)
                # The live marker was written when the stop cancelled the spawned tasks, after
                # the jobs: stop here without moving the clock (a sleeper due meanwhile was
                # cancelled live), and go on once the replayed stop is as far, so the requests
                # of the tasks it cancelled are dropped, not answered (see ``_shutdown``).
                self.stopping = asyncio.get_running_loop().create_task(self.bot.stop())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(STOP_PATIENCE):
                        await self.plugin.stop_seen.wait()
                await self._let_run()
                await self._shutdown(remaining)
                break
            elif kind is Outcome:
                assert isinstance(record, Outcome)
                self.live = record.outcome
            else:
                assert isinstance(record, Header)
        if batch:
            await self._frames(batch)
        await self._started(starting, [])

    async def _started(
        self, starting: asyncio.Task[None], remaining: list[Record | Anchor]
    ) -> None:
        """Wait for the bot's start to end. A request it makes meanwhile that no record left
        could answer (none of the same method and path) gets a 503 at once and is listed: the
        live run never made it (its start failed sooner, or this bot differs), and waiting
        would only run out the bot's own timeouts."""
        answerable = {(r.method, r.path) for r in remaining if isinstance(r, Rest)}
        while not starting.done():
            for request in list(self.server.pending):
                if (request.method, request.path) not in answerable:
                    self.refused.append(f"{request.method} {request.path} {request.params}")
                    self.server.refuse(request)
            await asyncio.wait({starting}, timeout=POLL)

    async def _let_run(self) -> None:
        for _ in range(self.settle):
            await asyncio.sleep(0)

    async def _frames(self, batch: list[Frame]) -> None:
        """Send frames the live connector may have taken in one pass of its loop back to back,
        each on its stream's socket: on the system clock, those between two time marks (and
        no other record); on another clock, one stream's under one time. Then wait until
        the connector has taken them and let the tasks they woke run: a task a frame woke
        live ran after the frames that came with it, and so it does here."""
        await self.clock.advance_to(batch[0].at)
        sockets: dict[str, web.WebSocketResponse | None] = {}
        for stream in dict.fromkeys(record.stream for record in batch):
            ws = self.server.sockets.get(stream)
            sockets[stream] = await self._socket(stream) if ws is None or ws.closed else ws
        counts: dict[str, int] = {}
        for record in batch:
            stream = record.stream
            ws = sockets[stream]
            if ws is None:
                self.skipped += 1
                continue
            data = self.ids.bytes(record.data) if stream == "user_data" else record.data
            await ws.send_frame(data, WSMsgType.TEXT)
            counts[stream] = counts.get(stream, 0) + 1
        totals = {stream: self.sent.get(stream, 0) + sent for stream, sent in counts.items()}
        self.sent.update(totals)
        for stream, sent in counts.items():
            try:
                await self.plugin.taken_by(stream, totals[stream], self._patience)
            except TimeoutError:
                if self.stopping is None:
                    raise self._diverged(f"the connector did not take the {stream} frame") from None
                self.skipped += sent
                continue
            self.frames += sent
        await self._let_run()

    async def _socket(self, stream: str) -> web.WebSocketResponse | None:
        """The connection of ``stream``, once the connector opened it."""
        try:
            async with asyncio.timeout(self._patience):
                while True:
                    ws = self.server.sockets.get(stream)
                    if ws is not None and not ws.closed:
                        return ws
                    self.server.changed.clear()
                    await self.server.changed.wait()
        except TimeoutError:
            if self.stopping is not None:
                return None  # closed by the shutdown
            raise self._diverged(f"the connector did not open the {stream} stream") from None

    async def _shutdown(self, remaining: list[Record | Anchor]) -> None:
        """The recording after ``Stop``: the bot's shutdown. Its tasks end in an order the
        timing decides (a job cancelled, a strategy cancelling its orders), so each request
        gets the first recorded answer that matches it, in any order; frames go in order, as
        long as the connector still takes them."""
        assert self.stopping is not None
        self.not_run += sum(isinstance(r, Sent) and r.owner in OFF for r in remaining)
        rests = [r for r in remaining if isinstance(r, Rest) and r.owner not in OFF]
        used: set[int] = set()
        for record in remaining:
            self.answer_any(rests, used)
            if isinstance(record, Frame):  # sent, not waited for: the shutdown goes on
                ws = self.server.sockets.get(record.stream)
                if ws is None or ws.closed:
                    self.skipped += 1
                    continue
                data = self.ids.bytes(record.data) if record.stream == "user_data" else record.data
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_frame(data, WSMsgType.TEXT)
                    self.frames += 1
                await self._let_run()
            elif isinstance(record, State) and record.state in DOWN:
                await self.server.drop(record.stream)
            elif isinstance(record, Outcome):
                self.live = record.outcome
        while not self.stopping.done():
            self.answer_any(rests, used)
            await asyncio.wait({self.stopping}, timeout=POLL)
        self.skipped += len(rests) - len(used)

    def answer_any(self, rests: list[Rest], used: set[int]) -> None:
        """Answer every waiting request that an unused recorded answer matches (not those
        the bot gave up on: a cancelled task's request takes no answer from another)."""
        self.server.drop_gone()
        for request in list(self.server.pending):
            for i, record in enumerate(rests):
                want = {k: v for k, v in record.params.items() if k not in VOLATILE}
                if i in used or not self._matches(request, record.method, record.path, want):
                    continue
                used.add(i)
                self.server.pending.remove(request)
                body = self.ids.bytes(record.body) if record.body else record.body
                request.answer.set_result((record.status, body))
                self.rest += 1
                break

    @property
    def _patience(self) -> float:
        """How long to wait for the bot: ``within``; while it stops, at most ``STOP_PATIENCE``
        (its shutdown may cancel what the live one still finished: skipped, not diverged)."""
        return self.within if self.stopping is None else min(self.within, STOP_PATIENCE)

    async def _sent(self, record: Sent) -> None:
        """The live bot sent a request here: nothing recorded after it goes out until the
        replayed bot has sent as many, so a task of the bot's that runs later than the live
        one decides on what the live one had seen, not on the frames that came after.
        Meanwhile the clock wakes only the sleepers due by the time the live request left."""
        self.markers += 1
        plugin, clock, target = self.plugin, self.clock, self.markers
        try:
            async with asyncio.timeout(self._patience):
                while plugin.sent < target:
                    wake = clock.next_wake
                    if wake is not None and wake <= record.at:
                        await clock.advance_to(wake)
                        continue
                    plugin.sending.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(POLL):
                            await plugin.sending.wait()
        except TimeoutError:
            raise self._diverged(self._unsent(record)) from None

    def _unsent(self, record: Sent) -> str:
        """The request of ``record`` the bot did not send, named by its recorded answer (read
        ahead: the first one sent at the marker's time) when there is one."""
        waiting = ", ".join(f"{p.method} {p.path}" for p in self.server.pending) or "none"
        sent = f"the live run's request {self.markers}; the bot sent {self.plugin.sent}"
        for later in self.records:
            if isinstance(later, Rest) and later.sent_at == record.at:
                want = {k: v for k, v in later.params.items() if k not in VOLATILE}
                return (
                    f"the bot did not send {later.method} {later.path} {want} before the next "
                    f"record ({sent}; requests waiting: {waiting})"
                )
        return f"the bot did not send a request before the next record ({sent})"

    async def _rest(self, record: Rest) -> None:
        if record.owner in OFF:
            return  # a request of a plugin the replay does not run
        request = await self._request(record)
        if request is None:
            self.skipped += 1
            return
        await self.clock.advance_to(record.at)
        self.server.pending.remove(request)
        body = self.ids.bytes(record.body) if record.body else record.body
        target = self.plugin.answered + 1
        request.answer.set_result((record.status, body))
        try:  # the connector has read it (and its caller goes on) before the next record
            await self.plugin.answered_by(target, self._patience)
        except TimeoutError:
            if self.stopping is None:
                raise self._diverged(
                    f"the connector did not read the answer to {record.path}"
                ) from None
            # while stopping, the caller may have been cancelled: the live one was later
        self.rest += 1
        await self._let_run()

    async def _request(self, record: Rest) -> Pending | None:
        """The bot's request that the recorded answer belongs to, once it was sent."""
        want = {k: v for k, v in record.params.items() if k not in VOLATILE}
        server = self.server
        clock = self.clock
        try:
            async with asyncio.timeout(self._patience):
                while True:
                    for request in server.pending:
                        if self._matches(request, record.method, record.path, want):
                            return request
                    # Not sent yet. The clock moves only as far as the next sleeper that is
                    # due by the time the live request left (a job, a re-check): a sleep the
                    # bot is about to begin must not find the clock already past its end.
                    wake = clock.next_wake
                    if wake is not None and wake <= record.sent_at:
                        await clock.advance_to(wake)
                        continue
                    server.arrived.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(POLL):
                            await server.arrived.wait()
        except TimeoutError:
            if self.stopping is not None:
                return None  # a job the shutdown cancelled earlier than the live one's
            waiting = ", ".join(f"{p.method} {p.path}" for p in server.pending) or "none"
            raise self._diverged(
                f"the bot did not send {record.method} {record.path} {want} "
                f"(requests waiting: {waiting})"
            ) from None

    def _matches(self, request: Pending, method: str, path: str, want: dict[str, str]) -> bool:
        if request.method != method or request.path != path:
            return False
        got = request.params
        if got.keys() != want.keys():
            return False
        for key, value in want.items():
            mine = got[key]
            if mine == value:
                continue
            if key not in ID_PARAMS:
                return False
            if key == "origClientOrderId" and self.ids.live(mine) != value:
                return False
        for key in ID_PARAMS:
            if key == "newClientOrderId" and key in want:
                self.ids.learn(want[key], got[key])
        return True

    def _diverged(self, what: str) -> ReplayDiverged:
        starting = self.starting
        if starting is not None and starting.done() and not starting.cancelled():
            failed = starting.exception()
            if failed is not None:
                return ReplayDiverged(f"the bot did not start: {failed}")
        return ReplayDiverged(
            f"replay diverged at record {self.index} (clock {self.clock.time():.3f}): {what} "
            f"within {self.within:g} s"
        )


async def _see_stop(seen: asyncio.Event) -> None:
    """Wait until cancelled (as the recorder's stop marker is, when the stop cancels the
    spawned tasks): set ``seen``."""
    try:
        await asyncio.Event().wait()
    finally:
        seen.set()


def replay_settings(header: Header, server: ReplayServer, data_dir: Path) -> Settings:
    """The recorded settings, pointed at ``server``, with the plugins in ``OFF`` disabled."""
    raw = dict(header.settings)
    plugins = {name: dict(block) for name, block in (raw.get("plugins") or {}).items()}
    for name in OFF:
        plugins[name] = {**plugins.get(name, {}), "enabled": False}
    plugins["binance"] = {**plugins.get("binance", {}), **FAST_RECONNECT}
    raw["plugins"] = plugins
    raw["exchange"] = {
        **(raw.get("exchange") or {}),
        "api_key": REPLAY_KEY,
        "api_secret": REPLAY_KEY,
        "rest_url": server.rest_url,
        "stream_url": server.ws_url,
    }
    raw["runtime"] = {**(raw.get("runtime") or {}), "data_dir": str(data_dir)}
    return load_settings(use_files=False, overrides=raw)


async def replay_file(
    path: Path,
    *,
    within: float = 10.0,
    settle: int = 4,
    plugins: Mapping[str, object] | None = None,
) -> ReplayResult:
    """Replay the recording at ``path`` (and its later parts); see the module doc.

    ``within``: seconds of real time the bot may take to make a recorded request or take a
    frame before the replay is declared diverged (``ReplayDiverged``); ``settle``: loop passes
    the bot gets after each record; ``plugins``: more plugin objects (tests, observers).
    """
    try:
        header = header_of(path)
    except (OSError, RecordingError) as exc:
        raise UnreadableRecording(str(exc)) from None
    stats = ReadStats()
    server = ReplayServer()
    ids = IdMap()
    plugin = ReplayPlugin(server, ids)
    await server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="tradeloop-replay-") as data_dir:
            settings = replay_settings(header, server, Path(data_dir))
            extra = [(NAME, plugin), *(plugins or {}).items()]
            loaded = load_plugins(settings, extra=extra, bot_folder=Path.cwd())
            clock = ManualClock(header.at)
            bot = Bot(settings, loaded, clock=clock)
            driver = Driver(
                read_marked(path, stats),
                server,
                plugin,
                clock,
                bot,
                within=within,
                settle=settle,
            )
            began = time.perf_counter()
            starting = asyncio.get_running_loop().create_task(bot.start())
            try:
                await driver.run(starting)
            except RecordingError as exc:
                raise UnreadableRecording(str(exc)) from None
            finally:
                unanswered = [
                    *driver.refused,
                    *(f"{p.method} {p.path} {p.params}" for p in server.pending),
                ]
                server.fail_pending()
                summary = await _stopped(bot, driver, starting)
            seconds = time.perf_counter() - began
    finally:
        await server.stop()
    if unanswered:
        logger.warning("replay: {} request(s) the recording does not answer", len(unanswered))
    return ReplayResult(
        outcome=plugin.outcome(),
        live=driver.live,
        frames=driver.frames,
        rest=driver.rest,
        seconds=seconds,
        files=stats.files,
        torn_blocks=stats.torn,
        unanswered=unanswered,
        skipped=driver.skipped,
        not_run=driver.not_run,
        summary=summary,
    )


async def _stopped(bot: Bot, driver: Driver, starting: asyncio.Task[None]) -> dict[str, Any]:
    """Stop the bot if the recording did not, wait for it; its summary."""
    if not starting.done():
        starting.cancel()
    with contextlib.suppress(BaseException):
        await starting
    if driver.stopping is None:
        if bot.running:
            return await bot.stop()
        return {}
    return await driver.stopping
