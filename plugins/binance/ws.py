"""One logical WebSocket stream kept alive: connect, read, watchdog, reconnect, rotate.

* Pings from the server are answered with a pong echoing their payload (PITFALLS 11); the
  client also pings every ``ping_interval`` so a quiet connection still shows life.
* The watchdog marks a connection **stale** when neither a message nor a pong arrived for
  ``stale_after`` seconds (per connection, PITFALLS 12), closes it and reconnects.
* Reconnects use capped exponential backoff with jitter; every reconnect is announced with
  ``needs_resync=True`` (events sent while disconnected are gone, PITFALLS 14).
* Before ``rotate_after`` (Binance closes connections at 24 h) and when the URL must change
  (new listenKey), the replacement socket is opened **first**; the old one keeps reading for
  ``rotate_overlap`` seconds and is closed after, so nothing is lost in the switch.
* A message longer than ``max_frame_bytes`` is refused before its payload is buffered: the
  connection is closed (code 1009), the refusal logged and counted (``too_large``), and the
  stream reconnects with a resync.
* The hot path (``_read``) does no per-message timing, logging or ``wait_for``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import WebSocketError, WSCloseCode, WSMsgType
from loguru import logger

from framework.redact import strip_listen_keys
from framework.tasks import cancel_and_wait
from framework.types import StreamState

from .config import BinanceConfig
from .errors import BinanceError

MessageHandler = Callable[[bytes], None]
StateHandler = Callable[[StreamState, str, bool], None]


@dataclass(slots=True)
class StreamStats:
    """Counters of one stream for the run summary."""

    connects: int = 0
    reconnects: int = 0
    disconnects: int = 0
    stale: int = 0
    rotations: int = 0
    connect_failures: int = 0
    messages: int = 0
    too_large: int = 0


@dataclass(eq=False)
class _Conn:
    ws: aiohttp.ClientWebSocketResponse[Literal[False]]
    url_tag: str
    opened: float
    rx: int = 0
    pongs: int = 0  # pings from the server and pongs to ours
    reader: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str = ""


class StreamRunner:
    """Keeps one stream connected; ``run()`` until cancelled or ``stop()``."""

    def __init__(
        self,
        *,
        name: str,
        session: aiohttp.ClientSession,
        url: Callable[[], Awaitable[str]],
        on_message: MessageHandler,
        on_state: StateHandler,
        config: BinanceConfig,
        silence_after: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.silence_after = silence_after
        self._session = session
        self._url = url
        self._on_message = on_message
        self._tap: MessageHandler | None = None
        self._on_state = on_state
        self.config = config
        self._rng = rng or random.Random()
        self.stats = StreamStats()
        self._switch = asyncio.Event()
        self._switch_reason = ""
        self._switch_resync = False
        self._conns: set[_Conn] = set()
        self._closers: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()
        self._stopping = False

    def add_tap(self, tap: MessageHandler) -> None:
        """Hand every message to ``tap`` before the handler (``framework.FrameTap``); call it
        before ``run``. The read loop calls a single tap itself, with no wrapper between (a
        tap that is a C callable, such as ``deque.append``, costs one call per message);
        several are called in the order they were added."""
        first = self._tap
        if first is None:
            self._tap = tap
            return

        def both(data: bytes) -> None:
            first(data)
            tap(data)

        self._tap = both

    def _tap_failed(self, exc: Exception) -> None:
        """A tap raised: logged, the message still goes to the handler."""
        logger.opt(exception=exc).error("{} stream: frame tap failed: {!r}", self.name, exc)

    # --------------------------------------------------------------------------- control

    def request_switch(self, reason: str, *, resync: bool) -> None:
        """Open a new connection (new URL) before closing the current one."""
        self._switch_reason = reason
        self._switch_resync = self._switch_resync or resync
        self._switch.set()

    async def stop(self) -> None:
        """Close every connection (the caller cancels ``run``)."""
        self._stopping = True
        for conn in list(self._conns):
            await self._close(conn, "shutdown")
        for task in list(self._closers):
            task.cancel()
        await asyncio.gather(*self._closers, return_exceptions=True)

    @property
    def received(self) -> int:
        """Messages received so far, over every connection (only grows). Read from the
        per-connection counters, so the read loop pays nothing for it: a finished reader has
        already added its count to ``stats.messages`` when it sets ``done``."""
        return self.stats.messages + sum(c.rx for c in self._conns if not c.done.is_set())

    # ------------------------------------------------------------------------------ run

    async def run(self) -> None:
        """Connect and keep connected."""
        try:
            conn = await self._connect_with_backoff(first=True)
            while True:
                outcome = await self._supervise(conn)
                if outcome == "switch" or outcome == "rotate":
                    resync = self._switch_resync if outcome == "switch" else False
                    reason = self._switch_reason if outcome == "switch" else "rotation"
                    self._switch.clear()
                    self._switch_resync = False
                    new = await self._connect_with_backoff(
                        first=False, resync=resync, reason=reason, planned=True
                    )
                    self.stats.rotations += 1
                    self._close_later(conn, reason)
                    conn = new
                    continue
                # the connection dropped or went stale
                await self._close(conn, outcome)
                conn = await self._connect_with_backoff(first=False, resync=True, reason=outcome)
        finally:
            self.connected.clear()
            for conn in list(self._conns):
                await self._close(conn, "stopped")

    async def _connect_with_backoff(
        self, *, first: bool, resync: bool = False, reason: str = "", planned: bool = False
    ) -> _Conn:
        attempt = 0
        while True:
            try:
                url = await self._url()
                ws = await self._session.ws_connect(
                    url,
                    autoping=False,
                    max_msg_size=self.config.max_frame_bytes,
                    decode_text=False,
                    timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                )
            except (aiohttp.ClientError, TimeoutError, OSError, BinanceError) as exc:
                attempt += 1
                self.stats.connect_failures += 1
                delay = self._backoff(attempt)
                logger.warning(
                    "{} stream: connect failed ({}); retry in {:.2f} s",
                    self.name,
                    _describe(exc),
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            conn = _Conn(ws=ws, url_tag=url.split("?", 1)[0][-12:], opened=time.monotonic())
            conn.reader = asyncio.get_running_loop().create_task(
                self._read(conn), name=f"binance:{self.name}:reader"
            )
            self._conns.add(conn)
            self.stats.connects += 1
            if not first and not planned:
                self.stats.reconnects += 1
            self.connected.set()
            why = reason or ("connected" if first else "reconnected")
            self._on_state(StreamState.CONNECTED, why, resync)
            return conn

    def _backoff(self, attempt: int) -> float:
        cap = min(self.config.reconnect_cap, self.config.reconnect_base * 2 ** (attempt - 1))
        return self._rng.uniform(cap / 2, cap)

    async def _supervise(self, conn: _Conn) -> str:
        """Wait until the connection ends, goes stale, or must be rotated or switched."""
        cfg = self.config
        tick = min(cfg.ping_interval, cfg.stale_after / 3)
        silence = self.silence_after
        if silence:
            tick = min(tick, silence / 3)
        last_rx, last_pongs = conn.rx, conn.pongs
        last_life = last_data = last_ping = time.monotonic()
        switch_wait = asyncio.ensure_future(self._switch.wait())
        done_wait = asyncio.ensure_future(conn.done.wait())
        try:
            while True:
                await asyncio.wait(
                    {switch_wait, done_wait}, timeout=tick, return_when=asyncio.FIRST_COMPLETED
                )
                if done_wait.done():
                    self.stats.disconnects += 1
                    reason = conn.close_reason or "closed"
                    self.connected.clear()
                    self._on_state(StreamState.DISCONNECTED, reason, False)
                    return reason
                if switch_wait.done():
                    return "switch"
                now = time.monotonic()
                if conn.rx != last_rx:
                    last_rx, last_data, last_life = conn.rx, now, now
                if conn.pongs != last_pongs:
                    last_pongs, last_life = conn.pongs, now
                reason = ""
                if now - last_life >= cfg.stale_after:
                    reason = f"no message and no pong for {now - last_life:.1f} s"
                elif silence and now - last_data >= silence:
                    reason = f"no message for {now - last_data:.1f} s (pings still answered)"
                if reason:
                    self.stats.stale += 1
                    self.connected.clear()
                    logger.warning("{} stream stale: {}", self.name, reason)
                    self._on_state(StreamState.STALE, reason, False)
                    return "stale"
                if now - conn.opened >= cfg.rotate_after:
                    return "rotate"
                if now - last_ping >= cfg.ping_interval:
                    last_ping = now
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await conn.ws.ping()
        finally:
            for waiter in (switch_wait, done_wait):
                waiter.cancel()

    async def _read(self, conn: _Conn) -> None:
        ws = conn.ws
        receive = ws.receive
        handle = self._on_message
        tap = self._tap
        text, binary = WSMsgType.TEXT, WSMsgType.BINARY
        ping, pong = WSMsgType.PING, WSMsgType.PONG
        try:
            while True:
                msg = await receive()
                kind = msg.type
                if kind is text or kind is binary:
                    conn.rx += 1
                    data = msg.data
                    if tap is not None:
                        try:
                            tap(data)
                        except Exception as exc:  # noqa: BLE001 - a failing tap never stops it
                            self._tap_failed(exc)
                    handle(data)
                elif kind is ping:
                    conn.pongs += 1
                    await ws.pong(msg.data)
                elif kind is pong:
                    conn.pongs += 1
                else:
                    conn.close_reason = _close_reason(ws, msg)
                    if _too_large(msg):
                        self.stats.too_large += 1
                        logger.error(
                            "{} stream: message refused, longer than "
                            "plugins.binance.max_frame_bytes ({:,} bytes); reconnecting",
                            self.name,
                            self.config.max_frame_bytes,
                        )
                    break
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            conn.close_reason = _describe(exc)
        finally:
            self.stats.messages += conn.rx
            conn.done.set()

    def _close_later(self, conn: _Conn, reason: str) -> None:
        async def close_after_overlap() -> None:
            await asyncio.sleep(self.config.rotate_overlap)
            await self._close(conn, reason)

        task = asyncio.get_running_loop().create_task(close_after_overlap())
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def _close(self, conn: _Conn, reason: str) -> None:
        self._conns.discard(conn)
        conn.close_reason = conn.close_reason or reason
        with contextlib.suppress(Exception):
            await conn.ws.close()
        if conn.reader is not None and not conn.reader.done():
            await cancel_and_wait(conn.reader)


def _close_reason(ws: aiohttp.ClientWebSocketResponse[Literal[False]], msg: Any) -> str:
    if msg.type is WSMsgType.ERROR:
        return f"error: {_describe(msg.data)}"
    code = ws.close_code
    return f"closed by server (code {code})" if code is not None else "closed"


def _too_large(msg: Any) -> bool:
    """The reader refused a message longer than ``max_msg_size``."""
    error = msg.data if msg.type is WSMsgType.ERROR else None
    return isinstance(error, WebSocketError) and error.code == WSCloseCode.MESSAGE_TOO_BIG


def _describe(exc: object) -> str:
    """An exception's type and message, without listenKeys: any URL's query string removed,
    ``/ws/<listenKey>`` masked (``/ws/***``)."""
    text = strip_listen_keys(str(exc))
    if "?" in text:
        text = text.split("?", 1)[0] + "?..."
    return f"{type(exc).__name__}: {text}" if isinstance(exc, BaseException) else text
