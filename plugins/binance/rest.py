"""REST client on one aiohttp session: signing, time offset, rate-limit governor, retries.

Policy per request:

* every request first passes the ``RateGovernor`` (pacing, 429 back-off, 418 ban);
* signed requests get ``timestamp`` (server-time corrected) and ``recvWindow``; a -1021 answer
  re-measures the offset, then an idempotent request is sent once more, while a new order
  raises ``TimestampError`` for ``orders.OrderService``, which looks its client order id up
  before it sends it again (never a second order for one that may have been accepted);
* a server-time sample during which the local clock jumped (its wall-clock round trip is not
  its monotonic one) is dropped, so a jump never skews the offset;
* idempotent requests (``GET``, ``DELETE``, listenKey calls) are retried on transport errors, 5xx
  and 429 with capped exponential backoff and full jitter;
* a non-idempotent request (a new order) is never retried here: an answer that leaves its outcome
  unknown raises ``ServerError``/``TransportError`` and ``orders.OrderService`` resolves it by
  querying the client order id before anything is resent.

Answers are bounded: a body longer than ``max_body_bytes`` is refused while it is read
(``ResponseTooLarge``, naming the endpoint, never the query string), and a body longer than
``decode_in_thread_bytes`` is decoded in a worker thread, so a large answer never blocks the
event loop. A 2xx answer holding an insane value (``checks``) raises ``ServerError`` too.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import aiohttp
import msgspec
from loguru import logger

from .checks import Horizon, Names
from .config import BinanceConfig
from .counters import EventCounters
from .decode import ServerTime, decode_error_body
from .errors import (
    BinanceAPIError,
    BinanceError,
    RateLimitedError,
    RateLimitWaitTooLong,
    ResponseTooLarge,
    ServerError,
    TimestampError,
    TransportError,
    api_error,
)
from .governor import RateGovernor, retry_after_of
from .rows import BadAnswer, OneReader, Problem, RowReader, Rows
from .signing import Signer, encode_params, mask_key, signed_query
from .timesync import TimeOffset

if TYPE_CHECKING:
    from framework.exchange import FrameTap

T = TypeVar("T")
R = TypeVar("R")
RESYNC_EVERY = 30.0  # seconds between clock re-measures asked for by events stamped ahead
CLOCK_JUMP = 1.0  # s: a sample whose wall-clock round trip differs more from its monotonic one
EXTRA_SAMPLES = 3  # how many more samples a re-measure may take to replace dropped ones
READ_CHUNK = 1 << 16
IDEMPOTENT = frozenset({"GET", "DELETE", "PUT"})
API_KEY_HEADER = "X-MBX-APIKEY"


class RestStats(msgspec.Struct, kw_only=True):
    """Counters for the run summary."""

    requests: int = 0
    retries: int = 0
    errors: int = 0
    timestamp_resyncs: int = 0
    clock_jumps: int = 0  # server-time samples dropped: the local clock jumped during them
    transport_errors: int = 0
    too_large: int = 0
    bad_answers: int = 0
    thread_decodes: int = 0


class RestClient:
    """Binance USD-M REST over one ``aiohttp.ClientSession``."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        signer: Signer,
        config: BinanceConfig,
        recv_window_ms: int = 5000,
        rng: random.Random | None = None,
        wall_time: Callable[[], float] = time.time,
        counters: EventCounters | None = None,
        names: Names | None = None,
        taps: Sequence[FrameTap] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.taps = tuple(taps)  # who also gets every answer, as received (recorder)
        self.counters = counters or EventCounters()
        self.names = names or Names()
        self._api_key = api_key
        self._signer = signer
        self.config = config
        self.recv_window_ms = recv_window_ms
        self.time = TimeOffset(wall_time)  # the local clock the exchange's time is offset from
        self.governor = RateGovernor(config, server_time=self.time.now_s)
        self.stats = RestStats()
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._synced_at = 0.0
        self._resync: asyncio.Task[None] | None = None
        self._resync_asked = -RESYNC_EVERY

    def __repr__(self) -> str:
        return f"RestClient({self.base_url!r}, api_key={mask_key(self._api_key)})"

    # --------------------------------------------------------------------------- life

    async def start(self) -> None:
        """Open the session and measure the server-time offset."""
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.config.rest_timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        await self.sync_time()

    async def close(self) -> None:
        """Close the session."""
        if self._resync is not None:
            self._resync.cancel()
            await asyncio.gather(self._resync, return_exceptions=True)
            self._resync = None
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session (the WebSocket clients use it too)."""
        if self._session is None:
            raise RuntimeError("RestClient.start() was not awaited")
        return self._session

    async def sync_time(self, samples: int = 3) -> None:
        """Measure the server-time offset (``GET /fapi/v1/time``) from ``samples`` samples.

        A sample during which the local clock jumped (its wall-clock round trip differs from
        the monotonic one by more than ``CLOCK_JUMP``) is dropped and another taken, up to
        ``EXTRA_SAMPLES`` more: which side of the jump the server read its time on is unknown.
        """
        taken = 0
        for _ in range(samples + EXTRA_SAMPLES):
            sent, sent_mono = self.time.local(), time.monotonic()
            answer = await self.request("GET", "/fapi/v1/time", type=ServerTime, signed=False)
            received, elapsed = self.time.local(), time.monotonic() - sent_mono
            if abs((received - sent) - elapsed) > CLOCK_JUMP:
                self.stats.clock_jumps += 1
                logger.info(
                    "the local clock moved {:.1f} s during a {:.3f} s server-time sample: dropped",
                    received - sent,
                    elapsed,
                )
                continue
            self.time.add_sample(answer.serverTime, sent, received)
            taken += 1
            if taken == samples:
                break
        if not taken:
            logger.warning("the local clock kept jumping: the exchange clock offset is unchanged")
        self._synced_at = time.monotonic()
        logger.debug("binance server time offset {:.0f} ms", self.time.offset_ms)

    async def resync_after_timestamp_error(self, error: TimestampError) -> bool:
        """Forget the offset and measure it again after a -1021; ``False`` (logged) if that
        failed. Counted in ``timestamp_resyncs``."""
        self.stats.timestamp_resyncs += 1
        logger.warning("{}: re-measuring the exchange clock", error)
        self.time.reset()
        try:
            await self.sync_time()
        except (BinanceError, RateLimitWaitTooLong) as exc:
            logger.warning("re-measuring the exchange clock failed: {}", exc)
            return False
        return True

    def request_time_sync(self) -> None:
        """Re-measure the offset soon (an event came stamped far ahead of the exchange clock as
        we know it: the local clock may have jumped); at most once every ``RESYNC_EVERY`` s."""
        now = time.monotonic()
        if now - self._resync_asked < RESYNC_EVERY or self._session is None:
            return
        if self._resync is not None and not self._resync.done():
            return
        self._resync_asked = now
        self._resync = asyncio.get_running_loop().create_task(
            self._sync_quietly(), name="binance:time-resync"
        )

    async def _sync_quietly(self) -> None:
        try:
            await self.sync_time(samples=1)
        except (BinanceError, RateLimitWaitTooLong) as exc:
            logger.warning("re-measuring the exchange clock failed: {}", exc)

    async def maybe_resync(self) -> None:
        """Re-measure the offset when ``time_sync_interval`` has passed."""
        if time.monotonic() - self._synced_at >= self.config.time_sync_interval:
            await self.sync_time(samples=1)

    # ------------------------------------------------------------------------ readers

    def horizon(self) -> Horizon:
        """The latest event time to accept now (``checks.Horizon``), re-measuring the clock
        when an event is refused as ahead."""
        return Horizon(
            self.time.now_ms, int(self.config.max_event_ahead * 1000), self.request_time_sync
        )

    def one(self, row: type[R], problem: Problem[R]) -> OneReader[R]:
        """A ``decode`` for a single-object answer whose values are checked with ``problem``."""
        return OneReader(row, problem, self.names, self.horizon())

    def rows(self, row: type[R], problem: Problem[R]) -> RowReader[R]:
        """A ``decode`` for a list answer; each entry is checked with ``problem``, and the
        dropped ones are counted and logged (``counters.reject``) when the answer is read."""
        return RowReader(row, problem, self.names, self.horizon())

    # ------------------------------------------------------------------------ request

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        type: type[T],
        signed: bool = False,
        api_key: bool = False,
        weight: int = 1,
        order: bool = False,
        idempotent: bool | None = None,
        sent_at: list[int] | None = None,
        decode: Callable[[bytes], T] | None = None,
    ) -> T:
        """Send a request and decode its JSON answer into ``type`` (with ``decode`` if given:
        a reader that also checks the values, ``rows``); raise typed errors.

        ``sent_at`` collects the ``timestamp`` of every signed attempt (the exchange refuses
        one that is 1 s or more ahead of its clock, so what it accepted is not older than that).
        A -1021 re-measures the clock; an idempotent request is then sent once more, any other
        raises the ``TimestampError`` (the caller decides: ``OrderService`` looks the order up).
        """
        retryable = method in IDEMPOTENT if idempotent is None else idempotent
        name = f"{method} {path}"
        attempt = 0
        timestamp_retried = False
        while True:
            await self.governor.acquire(weight, order=order, request=name)
            try:
                return await self._send(
                    method,
                    path,
                    params,
                    decode or _typed(cast(Hashable, type)),
                    signed,
                    api_key or signed,
                    sent_at,
                )
            except TimestampError as exc:
                self.stats.errors += 1
                if timestamp_retried:
                    raise
                timestamp_retried = True
                if not await self.resync_after_timestamp_error(exc) or not retryable:
                    raise
                continue
            except ResponseTooLarge:
                self.stats.errors += 1
                raise  # the same answer would come again: never retried
            except (ServerError, TransportError, RateLimitedError) as exc:
                self.stats.errors += 1
                if not retryable and not _definitely_not_executed(exc):
                    raise
                if attempt >= self.config.retries:
                    raise
                attempt += 1
                self.stats.retries += 1
                delay = self._backoff(attempt)
                logger.warning("{} failed ({}); retry {} in {:.2f} s", name, exc, attempt, delay)
                await asyncio.sleep(delay)
            except BinanceAPIError:
                self.stats.errors += 1
                raise

    def _backoff(self, attempt: int) -> float:
        """Capped exponential backoff with full jitter."""
        cap = min(self.config.retry_cap, self.config.retry_base * 2 ** (attempt - 1))
        return self._rng.uniform(cap / 2, cap)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        decode: Callable[[bytes], T],
        signed: bool,
        with_key: bool,
        sent_at: list[int] | None = None,
    ) -> T:
        name = f"{method} {path}"
        query_params = dict(params or {})
        if signed:
            timestamp = self.time.now_ms()
            query_params["recvWindow"] = self.recv_window_ms
            query_params["timestamp"] = timestamp
            if sent_at is not None:
                sent_at.append(timestamp)
            query = signed_query(query_params, self._signer)
        else:
            query = encode_params(query_params)
        url = f"{self.base_url}{path}?{query}" if query else f"{self.base_url}{path}"
        headers = {API_KEY_HEADER: self._api_key} if with_key else None
        self.stats.requests += 1
        taps = self.taps
        stamps = [tap.rest_sent() for tap in taps]
        try:
            async with self.session.request(method, url, headers=headers) as resp:
                status = resp.status
                resp_headers = resp.headers
                body = await self._read_body(resp, name)
        except TimeoutError:
            self.stats.transport_errors += 1
            self._tap_answer(stamps, method, path, query_params, 0, b"timed out")
            raise TransportError(name, "timed out") from None
        except aiohttp.ClientError as exc:
            self.stats.transport_errors += 1
            self._tap_answer(stamps, method, path, query_params, 0, type(exc).__name__.encode())
            raise TransportError(name, type(exc).__name__) from None
        if taps:
            self._tap_answer(stamps, method, path, query_params, status, body)
        self.governor.observe(resp_headers)
        if status < 300:
            try:
                if len(body) > self.config.decode_in_thread_bytes:
                    self.stats.thread_decodes += 1
                    value = await asyncio.to_thread(decode, body)
                else:
                    value = decode(body)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise ServerError(status, 0, f"unexpected answer: {exc}", request=name) from None
            except BadAnswer as exc:
                self.stats.bad_answers += 1
                self.counters.reject(name, str(exc))
                raise ServerError(status, 0, f"answer refused: {exc}", request=name) from None
            if isinstance(value, Rows):
                # counted here, as soon as decoded: a caller may never look (a gather failed)
                for bad in value.bad:
                    self.counters.reject(name, bad.problem)
            return value
        error = decode_error_body(body)
        code = error.code if error else 0
        msg = error.msg if error else body[:200].decode(errors="replace")
        retry_after = retry_after_of(resp_headers)
        if status in (418, 429):
            waited = self.governor.on_rate_limited(status, retry_after, msg)
            retry_after = waited
        raise api_error(status, code, msg, request=name, retry_after=retry_after or 0.0)

    def _tap_answer(
        self,
        stamps: list[float],
        method: str,
        path: str,
        params: Mapping[str, Any],
        status: int,
        body: bytes,
    ) -> None:
        """Hand an answer to the taps: the parameters as sent, without the signature (which
        ``signed_query`` adds to the query string only); a failing tap is logged, never raised."""
        if not stamps:
            return
        shown = {key: str(value) for key, value in params.items() if key != "signature"}
        for tap, stamp in zip(self.taps, stamps, strict=True):
            try:
                tap.rest_answered(stamp, method, path, shown, status, body)
            except Exception as exc:  # noqa: BLE001 - a tap never fails a request
                logger.opt(exception=exc).error("REST tap failed: {!r}", exc)

    async def _read_body(self, resp: aiohttp.ClientResponse, name: str) -> bytes:
        """The body, refused (``ResponseTooLarge``) as soon as it is longer than the limit."""
        limit = self.config.max_body_bytes
        declared = resp.content_length
        if declared is not None and declared > limit:
            resp.close()
            self._too_large(resp.status, name, declared, limit)
        chunks: list[bytes] = []
        size = 0
        while chunk := await resp.content.read(READ_CHUNK):
            size += len(chunk)
            if size > limit:
                resp.close()
                self._too_large(resp.status, name, size, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, status: int, name: str, size: int, limit: int) -> NoReturn:
        self.stats.too_large += 1
        error = ResponseTooLarge(status, name, size, limit)
        logger.error("{}", error)
        raise error


@functools.cache
def _typed(type_: Hashable) -> Callable[[bytes], Any]:
    """The decoder of ``type_`` (plain msgspec decoding, no value checks), made once."""
    return msgspec.json.Decoder(type_).decode


def _definitely_not_executed(exc: BaseException) -> bool:
    """429/418 and -1008 are rejections: even an order may be sent again."""
    if isinstance(exc, RateLimitedError):
        return True
    return isinstance(exc, BinanceAPIError) and exc.code == -1008
