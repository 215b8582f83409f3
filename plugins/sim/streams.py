"""WebSocket side: raw and combined market streams, listenKey user streams, pings, rotation."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from framework.tasks import cancel_and_wait

from .config import SimSettings
from .faults import FaultInjector
from .listenkeys import unknown_listen_key

log = logging.getLogger(__name__)

MAX_QUEUED = 200_000
MAX_STREAMS = 1024
CLOSE_TIMEOUT = 1.0


@dataclass(slots=True)
class StreamsContext:
    """What the hub needs from the exchange."""

    settings: Callable[[], SimSettings]
    injector: FaultInjector
    valid_listen_key: Callable[[str], bool]
    faults_changed_at: Callable[[], float]
    clock: Callable[[], float]
    """The simulator's clock (seconds): the user-stream faults follow it."""
    user_stream_down: Callable[[], bool]
    """True while the ``user_stream_down`` fault refuses user-data connections."""
    faults_changed_clock: Callable[[], float]


class Connection:
    """One WebSocket client: its subscriptions, its send queue and its timers."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, combined: bool) -> None:
        loop = asyncio.get_running_loop()
        self.ws = ws
        self.request = request
        self.combined = combined
        self.streams: set[str] = set()
        self.listen_keys: set[str] = set()
        self.opened = loop.time()
        self.opened_clock = 0.0  # on the simulator's clock (set by the hub)
        self.silent = False  # ``silent_user_after``: no more events, pings still flow
        self.last_ping = self.opened
        self.last_pong = self.opened
        self.awaiting_pong = False
        self.stale = False
        self.closing = False
        self.ping_due = False
        self._out: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self.writer = asyncio.create_task(self._write())

    def send(self, data: bytes) -> None:
        """Queue a stream message (silently skipped once the connection went stale)."""
        if self.stale or self.silent or self.closing:
            return
        self._queue(data)

    def reply(self, data: bytes) -> None:
        """Queue an answer to a control message."""
        if not self.closing:
            self._queue(data)

    def _queue(self, data: bytes) -> None:
        out = self._out
        if len(out) >= MAX_QUEUED:
            log.warning("sim: dropping a slow WebSocket client (%d messages queued)", len(out))
            self.abort()
            return
        out.append(data)
        if len(out) == 1:
            self._wake.set()

    def ping(self) -> None:
        """Ask the writer to send a ping frame."""
        self.ping_due = True
        self._wake.set()

    async def _write(self) -> None:
        ws = self.ws
        out = self._out
        text = WSMsgType.TEXT
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self.ping_due:
                    self.ping_due = False
                    await ws.ping(b"sim")
                while out:
                    await ws.send_frame(out.popleft(), text)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("sim: WebSocket writer stopped: %s", exc)

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        self.closing = True
        self._out.clear()
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def close(self, code: int, message: bytes) -> None:
        """Send a close frame and wait (briefly) for the client's answer."""
        self.closing = True
        self._out.clear()
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=message), CLOSE_TIMEOUT)
        except (TimeoutError, ConnectionError, RuntimeError):
            self.abort()


class StreamHub:
    """Routes encoded messages to subscribed connections; encodes each message once per mode."""

    def __init__(self, ctx: StreamsContext) -> None:
        self.ctx = ctx
        self.market: dict[str, set[Connection]] = {}
        self.users: dict[str, set[Connection]] = {}
        self.connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.user_sent = 0
        """User-data messages queued to connections so far (one per connection; only grows)."""

    # ------------------------------------------------------------------ publishing

    def has_subscribers(self, stream: str) -> bool:
        """True if any connection listens to ``stream``."""
        return bool(self.market.get(stream))

    def publish(self, stream: str, raw: bytes) -> None:
        """Send one encoded market message to every subscriber of ``stream``."""
        _fan_out(self.market.get(stream), stream, raw)

    def has_user_listeners(self, listen_key: str) -> bool:
        """True if a connection is open on ``listen_key``."""
        return bool(self.users.get(listen_key))

    def publish_user(self, listen_key: str, raw: bytes) -> None:
        """Send one encoded user-data event to the connections of ``listen_key``."""
        conns = self.users.get(listen_key)
        if conns:
            self.user_sent += sum(1 for c in conns if not (c.stale or c.silent or c.closing))
        _fan_out(conns, listen_key, raw)

    # ------------------------------------------------------------------ connections

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Accept ``/ws/<streams>``, ``/stream?streams=..`` and the routed ``/private`` forms."""
        combined = request.path.endswith("/stream")
        tokens: list[str] = []
        if combined:
            tokens += [t for t in request.query.get("streams", "").split("/") if t]
        else:
            tokens += [t for t in request.match_info.get("streams", "").split("/") if t]
        tokens += [k for k in request.query.getall("listenKey", []) if k]
        if len(tokens) > MAX_STREAMS:
            return _json_error(400, -1130, "Too many streams requested.")
        streams: set[str] = set()
        keys: set[str] = set()
        for token in tokens:
            if "@" in token or token.startswith("!"):
                streams.add(normalize_stream(token))
            elif self.ctx.valid_listen_key(token):
                keys.add(token)
            else:
                err = unknown_listen_key()
                return _json_error(err.status, err.code, err.msg)

        if keys and self.ctx.user_stream_down():
            self.ctx.injector.count("user_stream_down")
            return _json_error(503, -1001, "Internal error; unable to process your request.")
        ws = web.WebSocketResponse(autoping=False, timeout=CLOSE_TIMEOUT, max_msg_size=65536)
        await ws.prepare(request)
        conn = Connection(ws, request, combined)
        conn.opened_clock = self.ctx.clock()
        self.connections.add(conn)
        self._subscribe(conn, streams)
        for key in keys:
            conn.listen_keys.add(key)
            self.users.setdefault(key, set()).add(conn)
        loop = asyncio.get_running_loop()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    conn.last_pong = loop.time()
                    conn.awaiting_pong = False
                elif msg.type is WSMsgType.TEXT:
                    self._control(conn, msg.data)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("sim: WebSocket reader stopped: %r", exc)
        finally:
            self._forget(conn)
            conn.closing = True
            await cancel_and_wait(conn.writer)
        return ws

    def _subscribe(self, conn: Connection, streams: set[str]) -> None:
        for stream in streams:
            conn.streams.add(stream)
            self.market.setdefault(stream, set()).add(conn)

    def _unsubscribe(self, conn: Connection, streams: set[str]) -> None:
        for stream in streams:
            conn.streams.discard(stream)
            subs = self.market.get(stream)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self.market[stream]

    def _forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self._unsubscribe(conn, set(conn.streams))
        for key in conn.listen_keys:
            subs = self.users.get(key)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self.users[key]

    def _control(self, conn: Connection, text: str) -> None:
        """Answer SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / property messages."""
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.reply(orjson.dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
            return
        if not isinstance(request, dict):
            conn.reply(orjson.dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
            return
        ident = request.get("id")
        method = request.get("method")
        params = request.get("params", [])
        if not isinstance(ident, int) or isinstance(ident, bool) or ident < 0:
            conn.reply(
                orjson.dumps({"error": {"code": 2, "msg": "Invalid request: id"}, "id": None})
            )
            return
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                conn.reply(
                    orjson.dumps({"error": {"code": 2, "msg": "Invalid params"}, "id": ident})
                )
                return
            names = {normalize_stream(p) for p in params}
            if method == "SUBSCRIBE":
                self._subscribe(conn, names)
            else:
                self._unsubscribe(conn, names)
            conn.reply(orjson.dumps({"result": None, "id": ident}))
        elif method == "LIST_SUBSCRIPTIONS":
            conn.reply(orjson.dumps({"result": sorted(conn.streams), "id": ident}))
        elif method == "SET_PROPERTY" and isinstance(params, list) and params[:1] == ["combined"]:
            conn.combined = bool(params[1]) if len(params) > 1 else conn.combined
            conn.reply(orjson.dumps({"result": None, "id": ident}))
        elif method == "GET_PROPERTY" and params == ["combined"]:
            conn.reply(orjson.dumps({"result": conn.combined, "id": ident}))
        else:
            conn.reply(
                orjson.dumps({"error": {"code": 2, "msg": "Invalid request: method"}, "id": ident})
            )

    def drop_user_connections(self) -> None:
        """Abort every user-data connection (the ``user_stream_down`` fault)."""
        for conn in list(self.connections):
            if conn.listen_keys and not conn.closing:
                self.ctx.injector.count("user_stream_down")
                conn.abort()

    # ------------------------------------------------------------------ timers

    def housekeeping(self, now: float) -> None:
        """Pings, pong timeouts, lifetime rotation, and the connection-level faults."""
        settings = self.ctx.settings()
        faults = self.ctx.injector.settings
        injector = self.ctx.injector
        changed = self.ctx.faults_changed_at()
        for conn in list(self.connections):
            if conn.closing:
                continue
            fault_age = now - max(conn.opened, changed)
            if faults.disconnect_every and fault_age >= faults.disconnect_every:
                injector.count("disconnect_every")
                conn.abort()
                continue
            if now - conn.opened >= settings.connection_lifetime:
                self._spawn(conn.close(1000, b"connection lifetime reached"))
                continue
            if conn.awaiting_pong and now - conn.last_pong >= settings.pong_timeout:
                self._spawn(conn.close(1008, b"pong timeout"))
                continue
            if faults.stale_after and not conn.stale and fault_age >= faults.stale_after:
                injector.count("stale_after")
                conn.stale = True
            if conn.listen_keys and self.ctx.user_stream_down():
                injector.count("user_stream_down")
                conn.abort()
                continue
            silent = faults.silent_user_after
            if silent and conn.listen_keys and not conn.silent:
                since = max(conn.opened_clock, self.ctx.faults_changed_clock())
                if self.ctx.clock() - since >= silent:
                    injector.count("silent_user_after")
                    conn.silent = True
            if now - conn.last_ping >= settings.ping_interval:
                conn.last_ping = now
                if not conn.awaiting_pong:
                    conn.awaiting_pong = True
                    conn.last_pong = now
                conn.ping()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_all(self) -> None:
        """Close every connection (going away) and wait for the closing tasks."""
        closes = [conn.close(1001, b"server stopping") for conn in list(self.connections)]
        await asyncio.gather(*closes, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def normalize_stream(token: str) -> str:
    """Lower-case the symbol part of a stream name, as Binance expects."""
    symbol, sep, rest = token.partition("@")
    return f"{symbol.lower()}{sep}{rest}"


def _json_error(status: int, code: int, msg: str) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"code": code, "msg": msg}),
        content_type="application/json",
    )


def _fan_out(conns: Collection[Connection] | None, stream: str, raw: bytes) -> None:
    """Send ``raw`` to each connection; combined ones get one shared ``{stream, data}`` envelope."""
    if not conns:
        return
    combined: bytes | None = None
    for conn in conns:
        if conn.combined:
            if combined is None:
                combined = b'{"stream":"' + stream.encode() + b'","data":' + raw + b"}"
            conn.send(combined)
        else:
            conn.send(raw)
