"""Market data: combined ``<symbol>@bookTicker`` streams delivered as typed ``Tick``s.

Per message: decode into a typed Struct, keep the latest tick per symbol (``last``), emit
``on_tick``. A rotation overlap can deliver a tick twice; ticks whose update id ``u`` is not newer
than the last one for the symbol are dropped then.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable

import aiohttp
import msgspec
from loguru import logger

from framework.types import Tick

from .checks import HI, Horizon, Names, tick_problem
from .config import BinanceConfig, Endpoints
from .counters import EventCounters, should_log
from .decode import CombinedBookTicker, WireBookTicker, decode_market_fallback
from .ws import StateHandler, StreamRunner

MAX_STREAMS_PER_CONNECTION = 200
MAX_PLAIN_BYTES = 400  # a longer bookTicker gets the digit-count check too (real ones: ~200)
MINUS = ord("-")
BACKSLASH = ord("\\")  # a JSON escape could spell a minus (\u002d)


def stream_names(symbols: Iterable[str]) -> list[str]:
    """Distinct ``<symbol>@bookTicker`` names, lowercase, in first-seen order."""
    seen: dict[str, None] = {}
    for symbol in symbols:
        seen.setdefault(f"{symbol.strip().lower()}@bookTicker", None)
    return list(seen)


class MarketStream:
    """One combined-stream connection for up to ``MAX_STREAMS_PER_CONNECTION`` symbols."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        endpoints: Endpoints,
        streams: list[str],
        config: BinanceConfig,
        emit: Callable[[Tick], None],
        counters: EventCounters,
        on_state: StateHandler,
        last: dict[str, Tick],
        rng: random.Random | None = None,
        name: str = "market",
        combined: bool = True,
        names: Names | None = None,
        horizon: Horizon | None = None,
    ) -> None:
        self.streams = streams
        self.names = names or Names()
        self._known = self.names.known  # the set itself: one lookup per message
        self.horizon = horizon or Horizon(
            lambda: int(time.time() * 1000), int(config.max_event_ahead * 1000)
        )
        self.url = endpoints.market_url(streams)
        self.counters = counters
        self.last = last
        self._emit = emit
        self._combined = combined
        self._decode_combined = msgspec.json.Decoder(CombinedBookTicker).decode
        self._decode_raw = msgspec.json.Decoder(WireBookTicker).decode
        self.runner = StreamRunner(
            name=name,
            session=session,
            url=self._url,
            on_message=self.handle,
            on_state=on_state,
            config=config,
            silence_after=config.market_silence_after,
            rng=rng,
        )

    async def _url(self) -> str:
        return self.url

    def handle(self, data: bytes) -> None:
        """Decode one message, check its values (``checks``) and emit its tick; never raises.

        Hot path: a message whose values are plainly sane (its length, no minus sign in its
        bytes, four ``Decimal`` comparisons on the decoded payload, one set lookup, one time
        comparison) skips the thorough checks; any other one, or one only the fallback decoder
        reads, gets them (``tick_problem``), which name what is wrong.
        """
        try:
            if self._combined:
                w = self._decode_combined(data).data
            else:
                w = self._decode_raw(data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            kind, maybe = decode_market_fallback(data)
            if maybe is None:
                self.counters.count_unhandled(kind, data, "market")
                return
            tick, plain = maybe, False
        else:
            try:
                # No value is negative when the message holds no minus, not even an escaped
                # one (a backslash): two byte searches (memchr: an int needle) instead of four
                # Decimal comparisons.
                # The upper bounds also refuse NaN (it cannot be ordered) and Infinity.
                plain = (
                    len(data) <= MAX_PLAIN_BYTES
                    and MINUS not in data
                    and BACKSLASH not in data
                    and w.b < HI
                    and w.a < HI
                    and w.B < HI
                    and w.A < HI
                    and w.s in self._known
                    and w.E <= self.horizon.limit
                )
            except ArithmeticError:  # NaN cannot be ordered: the thorough path says so
                plain = False
            tick = Tick(
                symbol=w.s,
                bid=w.b,
                bid_qty=w.B,
                ask=w.a,
                ask_qty=w.A,
                event_time=w.E,
                update_id=w.u,
            )
        counters = self.counters
        if not plain:
            problem = tick_problem(tick, self.names, self.horizon)
            if problem is not None:
                counters.reject("market bookTicker", problem)
                return
        last = self.last
        previous = last.get(tick.symbol)
        if previous is not None and tick.update_id and tick.update_id <= previous.update_id:
            counters.ignored += 1  # a duplicate from a rotation overlap, or out of order
            return
        last[tick.symbol] = tick
        counters.ticks += 1
        try:
            self._emit(tick)
        except Exception as exc:  # noqa: BLE001 - a failing hook never stops the stream
            counters.dispatch_errors += 1
            if should_log(counters.dispatch_errors):
                logger.opt(exception=exc).error("tick could not be delivered: {!r}", exc)
