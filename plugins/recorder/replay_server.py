"""The loopback exchange a replay runs against: REST requests wait for the recorded answer,
WebSocket connections carry the recorded frames.

Nothing here decides what to answer: ``replay.Driver`` walks the recording and hands each REST
answer to the request it belongs to (``take``), and sends each frame on its stream's socket
(``socket``). Connection labels follow the connector's: ``user_data`` for ``/ws/<key>``,
``market`` (``market1``, ``market2``, ... past 200 streams) for ``/stream?streams=...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

STREAMS_PER_CONNECTION = 200  # the connector's MAX_STREAMS_PER_CONNECTION
VOLATILE = frozenset({"timestamp", "recvWindow", "signature"})
ID_PARAMS = ("newClientOrderId", "origClientOrderId")


@dataclass(eq=False)
class Pending:
    """A request waiting for its recorded answer."""

    method: str
    path: str
    params: dict[str, str]
    answer: asyncio.Future[tuple[int, bytes]] = field(repr=False)
    request: web.Request | None = field(default=None, repr=False)

    @property
    def gone(self) -> bool:
        """The bot gave up on it (its task was cancelled, the connection closed)."""
        transport = self.request.transport if self.request is not None else None
        return self.request is not None and (transport is None or transport.is_closing())


class ReplayServer:
    """aiohttp on 127.0.0.1 (a free port); started and stopped by the replay."""

    def __init__(self) -> None:
        self.pending: list[Pending] = []
        self.arrived = asyncio.Event()
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.changed = asyncio.Event()
        self.market_labels: Callable[[list[str]], str] = lambda streams: "market"
        self._runner: web.AppRunner | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def rest_url(self) -> str:
        """Where the connector sends REST requests."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """Where the connector opens its sockets."""
        return f"ws://127.0.0.1:{self.port}"

    def label_markets(self, symbols: Iterable[str]) -> None:
        """Name market connections as the connector does for ``symbols``."""
        names = list(dict.fromkeys(f"{s.strip().lower()}@bookTicker" for s in symbols))
        chunks = max(1, -(-len(names) // STREAMS_PER_CONNECTION))
        first = {
            names[i]: i // STREAMS_PER_CONNECTION
            for i in range(0, len(names), STREAMS_PER_CONNECTION)
        }

        def label(streams: list[str]) -> str:
            index = first.get(streams[0], 0) if streams else 0
            return "market" if chunks == 1 else f"market{index + 1}"

        self.market_labels = label

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/stream", self._market)
        app.router.add_get("/ws/{key}", self._user)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            sock = socket.create_server(("127.0.0.1", 0))
            await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        """Refuse what still waits, close the sockets and the server."""
        self.fail_pending()
        for ws in list(self.sockets.values()):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def drop_gone(self) -> None:
        """Forget the requests the bot gave up on (they take no recorded answer)."""
        for request in [p for p in self.pending if p.gone]:
            self.pending.remove(request)
            if not request.answer.done():
                request.answer.set_result((503, b'{"code":-1001,"msg":"abandoned"}'))

    def fail_pending(self) -> None:
        """Answer every waiting request with 503 (the recording holds no answer for it)."""
        for request in list(self.pending):
            self.refuse(request)

    def refuse(self, request: Pending) -> None:
        """Answer ``request`` with 503: the recording holds no answer for it."""
        self.pending.remove(request)
        if not request.answer.done():
            request.answer.set_result((503, b'{"code":-1001,"msg":"not in the recording"}'))

    # ------------------------------------------------------------------------- REST

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        params = {k: v for k, v in request.query.items() if k not in VOLATILE}
        future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self.pending.append(Pending(request.method, request.path, params, future, request))
        self.arrived.set()
        status, body = await future
        if status == 0:  # the live request got no answer: neither does this one
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("the recorded request got no answer")
        return web.Response(status=status, body=body, content_type="application/json")

    # --------------------------------------------------------------------- sockets

    async def _market(self, request: web.Request) -> web.StreamResponse:
        streams = [s for s in request.query.get("streams", "").split("/") if s]
        return await self._serve(request, self.market_labels(streams))

    async def _user(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "user_data")

    async def _serve(self, request: web.Request, label: str) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self.sockets[label] = ws
        self.changed.set()
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            if self.sockets.get(label) is ws:
                del self.sockets[label]
                self.changed.set()
        return ws

    async def drop(self, label: str) -> None:
        """Close ``label``'s connection (the live one dropped here)."""
        ws = self.sockets.pop(label, None)
        if ws is not None:
            self.changed.set()
            with contextlib.suppress(Exception):
                await ws.close()
