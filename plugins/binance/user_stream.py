"""USD-M user-data stream: listenKey lifecycle, socket, and dispatch to the account sink.

listenKey (FACTS.md §1.3, PITFALLS 1-9):

* ``POST /fapi/v1/listenKey`` before connecting; the key is kept alive with ``PUT`` every
  ``keepalive_interval`` seconds (default 1800, a key lives 60 minutes).
* A ``PUT`` answered with -1125, or failing ``retries`` times in a row, is not just logged: a new
  key is created with ``POST`` and the socket is switched to it (new socket first).
* A ``listenKeyExpired`` event for the key in use does the same, and asks for a resync, because
  events between the expiry and the new socket are gone.
* The key is never ``DELETE``d: USD-M returns the same key to every client of the account, and
  deleting it would silence the others (PITFALLS 7).
"""

from __future__ import annotations

import asyncio
import random
from typing import Final

import msgspec
from loguru import logger

from framework.types import Balance, Position

from .checks import EXP_LIMIT, Names, account_update_problem, order_update_problem
from .config import BinanceConfig, Endpoints
from .counters import EventCounters, should_log
from .decode import (
    ZERO,
    AccountUpdate,
    Kind,
    ListenKeyAnswer,
    ListenKeyExpired,
    OrderTradeUpdate,
    UserEvent,
    decode_bare_user_event,
    decode_user_fallback,
    fill_of,
    order_of,
)
from .errors import BinanceError, ListenKeyError, RateLimitWaitTooLong
from .orders import OrderService
from .rest import RestClient
from .sink import AccountSink
from .ws import StateHandler, StreamRunner

LISTEN_KEY_PATH = "/fapi/v1/listenKey"
_EVENT: Final = Kind.EVENT  # a module constant: an Enum member lookup costs ~70 ns a message
# An ACCOUNT_UPDATE longer than this (per entry, plus the envelope) gets the digit-count check
# too: real entries are ~150 bytes, and a 5,000-digit amount makes a message long.
BYTES_PER_ENTRY: Final = 400
BYTES_PER_MESSAGE: Final = 400
ORDER_UPDATE_BYTES: Final = 1500  # the same for an ORDER_TRADE_UPDATE (real ones: ~700 bytes)


class UserDataStream:
    """The account's event stream, fed into an ``AccountSink``."""

    def __init__(
        self,
        *,
        rest: RestClient,
        endpoints: Endpoints,
        config: BinanceConfig,
        sink: AccountSink,
        orders: OrderService,
        counters: EventCounters,
        on_state: StateHandler,
        rng: random.Random | None = None,
        names: Names | None = None,
    ) -> None:
        self.rest = rest
        self.names = names or Names()
        self.horizon = rest.horizon()
        self.endpoints = endpoints
        self.config = config
        self.sink = sink
        self.orders = orders
        self.counters = counters
        self.listen_key = ""
        self.listen_key_renewals = 0
        self.keepalives = 0
        self.keepalive_failures = 0
        self._renewing: asyncio.Task[None] | None = None
        self.runner = StreamRunner(
            name="user_data",
            session=rest.session,
            url=self._url,
            on_message=self.handle,
            on_state=on_state,
            config=config,
            silence_after=config.user_silence_after,
            rng=rng,
        )

    # -------------------------------------------------------------------------- listenKey

    async def _url(self) -> str:
        if not self.listen_key:
            await self.create_listen_key()
        return self.endpoints.user_url(self.listen_key)

    async def create_listen_key(self) -> str:
        """``POST /fapi/v1/listenKey`` (returns the account's active key if there is one)."""
        answer = await self.rest.request(
            "POST", LISTEN_KEY_PATH, type=ListenKeyAnswer, api_key=True, idempotent=True
        )
        if not answer.listenKey:
            raise ListenKeyError(200, 0, "no listenKey in the answer", request="POST listenKey")
        self.listen_key = answer.listenKey
        return self.listen_key

    async def keepalive(self) -> None:
        """``PUT /fapi/v1/listenKey``; on -1125 or repeated failure, renew and switch sockets."""
        try:
            answer = await self.rest.request(
                "PUT", LISTEN_KEY_PATH, type=ListenKeyAnswer, api_key=True
            )
        except ListenKeyError:
            logger.warning("listenKey no longer exists (-1125); creating a new one")
            await self.renew("listenKey gone (-1125)")
            return
        except (BinanceError, RateLimitWaitTooLong) as exc:
            self.keepalive_failures += 1
            logger.warning("listenKey keepalive failed ({}); creating a new key", exc)
            await self.renew(f"keepalive failed: {type(exc).__name__}")
            return
        self.keepalives += 1
        if answer.listenKey and answer.listenKey != self.listen_key:
            self.listen_key = answer.listenKey
            self.listen_key_renewals += 1
            self.runner.request_switch("listenKey changed", resync=True)

    async def renew(self, reason: str) -> None:
        """Create a new key and switch the socket to it (asking for a resync)."""
        self.listen_key = ""
        attempt = 0
        while True:
            try:
                await self.create_listen_key()
                break
            except (BinanceError, RateLimitWaitTooLong) as exc:
                attempt += 1
                delay = self.runner._backoff(attempt)
                logger.warning("creating a listenKey failed ({}); retry in {:.1f} s", exc, delay)
                await asyncio.sleep(delay)
        self.listen_key_renewals += 1
        self.runner.request_switch(reason, resync=True)

    async def keepalive_loop(self) -> None:
        """PUT the key every ``keepalive_interval`` seconds, forever."""
        while True:
            await asyncio.sleep(self.config.keepalive_interval)
            await self.keepalive()

    def _on_expired(self, event: ListenKeyExpired) -> None:
        self.counters.listen_key_expired += 1
        if event.listenKey and self.listen_key and event.listenKey != self.listen_key:
            return  # an old key's notice (we already moved on)
        if self._renewing is not None and not self._renewing.done():
            return
        logger.warning("listenKey expired; creating a new one and reconnecting")
        self._renewing = asyncio.get_running_loop().create_task(
            self.renew("listenKeyExpired"), name="binance:listenkey-renew"
        )

    # ----------------------------------------------------------------------------- events

    def handle(self, data: bytes) -> None:
        """Decode one message, check it and apply it whole, or drop it whole; never raises.

        Hot path (ACCOUNT_UPDATE): one typed msgspec decode (money straight to ``Decimal``), then
        every value checked (``is_finite()`` and ``adjusted()``, a set lookup per name, ``checks``),
        then one ``Balance``/``Position`` per entry handed to the sink. What the typed
        decoder rejects (envelopes, lenient cases, junk) takes the slow path; a message with an
        insane value is counted (``rejected``), logged and dropped.
        """
        kind = _EVENT
        try:
            event: UserEvent | None = decode_bare_user_event(data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            kind, event = decode_user_fallback(data)
        counters = self.counters
        try:
            if type(event) is AccountUpdate:
                counters.account_updates += 1
                when = event.E
                account = event.a
                # Every value is checked before anything is applied: finite and below 10^18
                # (``adjusted() < 18``), entry prices not negative, names seen before. Anything
                # unusual (an insane value, a new name, a message longer than its entries
                # justify, an event time past the horizon) takes the thorough path.
                entries = len(account.B) + len(account.P)
                plain = (
                    0 <= when <= self.horizon.limit
                    and len(data) <= BYTES_PER_ENTRY * entries + BYTES_PER_MESSAGE
                )
                if plain:
                    known = self.names.known
                    for b in account.B:
                        wb = b.wb
                        cw = b.cw
                        if not (
                            wb.is_finite()
                            and cw.is_finite()
                            and wb.adjusted() < EXP_LIMIT
                            and cw.adjusted() < EXP_LIMIT
                            and b.a in known
                        ):
                            plain = False
                            break
                if plain:
                    for p in account.P:
                        pa = p.pa
                        ep = p.ep
                        up = p.up
                        bep = p.bep
                        if not (
                            pa.is_finite()
                            and ep.is_finite()
                            and up.is_finite()
                            and pa.adjusted() < EXP_LIMIT
                            and ep.adjusted() < EXP_LIMIT
                            and up.adjusted() < EXP_LIMIT
                            and ep >= ZERO
                            and p.s in known
                            and (bep is None or (bep.is_finite() and bep.adjusted() < EXP_LIMIT))
                        ):
                            plain = False
                            break
                if not plain:
                    problem = account_update_problem(event, self.names, self.horizon)
                    if problem is not None:
                        counters.reject("user-data ACCOUNT_UPDATE", problem)
                        return
                sink = self.sink
                # The event is applied whole before its first hook fires (end_event).
                sink.begin_event()
                try:
                    apply_balance = sink.apply_balance
                    for b in account.B:
                        apply_balance(
                            Balance(
                                asset=b.a,
                                wallet_balance=b.wb,
                                cross_wallet_balance=b.cw,
                                event_time=when,
                            )
                        )
                    apply_position = sink.apply_position
                    for p in account.P:
                        apply_position(
                            Position(
                                symbol=p.s,
                                side=p.ps,
                                amount=p.pa,
                                entry_price=p.ep,
                                unrealized_pnl=p.up,
                                event_time=when,
                                break_even_price=p.bep,
                            )
                        )
                finally:
                    sink.end_event()
            elif type(event) is OrderTradeUpdate:
                counters.order_updates += 1
                problem = order_update_problem(
                    event, self.names, self.horizon, deep=len(data) > ORDER_UPDATE_BYTES
                )
                if problem is not None:
                    counters.reject("user-data ORDER_TRADE_UPDATE", problem)
                    return
                order = order_of(event)
                fill = fill_of(event)
                sink = self.sink
                sink.begin_event()
                try:
                    sink.apply_order(order)
                    if fill is not None:
                        counters.fills += 1
                        sink.apply_fill(fill)
                finally:
                    sink.end_event()
                self.orders.on_order_event(order)
            elif type(event) is ListenKeyExpired:
                self._on_expired(event)
            else:
                # an event type that is recognised and ignored, or no event at all
                counters.count_unhandled(
                    Kind.IGNORED if event is not None else kind, data, "user-data"
                )
        except Exception as exc:  # noqa: BLE001 - a bad event or sink never stops the stream
            counters.dispatch_errors += 1
            if should_log(counters.dispatch_errors):
                logger.opt(exception=exc).error("user-data event could not be applied: {!r}", exc)

    async def close(self) -> None:
        """Stop renewing and close the socket (the key is left alone, see the module doc)."""
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.gather(self._renewing, return_exceptions=True)
        await self.runner.stop()
