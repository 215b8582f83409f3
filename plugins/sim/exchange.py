"""``SimExchange``: the engine, price paths, REST API and streams on one loopback aiohttp port."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import msgspec
import orjson
from aiohttp import web

from framework.tasks import cancel_and_wait

from . import account, market_wire, wire
from .candles import INTERVALS, Candle, SymbolCandles, open_time_of, seed_history
from .config import FaultSettings, SimSettings, check_settings
from .engine import (
    MARGIN_ASSET,
    AccountEvent,
    Engine,
    Event,
    LeverageEvent,
    Order,
    OrderEvent,
    OrderType,
    PlaceResult,
    Side,
    TimeInForce,
    TradeEvent,
)
from .faults import FaultInjector, LateOrders, UserEventFilter
from .history_trades import HistoryTrades
from .listenkeys import ListenKeys
from .market_rest import MarketApi
from .market_wire import AggRecord
from .prices import VOLATILITY_PER_SQRT_SECOND, PricePath, Tick
from .ratelimit import RateLimiter
from .rest import RestApi
from .streams import StreamHub, StreamsContext
from .symbols import SYMBOL_CATALOGUE, SymbolSpec

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL = 0.05
KLINE_INTERVAL = 0.25  # @kline_<interval> pushes (Binance: 250 ms)
DEPTH_INTERVALS = {"": 0.25, "@500ms": 0.5, "@100ms": 0.1}  # @depth<levels>[@speed]
DEPTH_LEVELS = (5, 10, 20)
AGG_TRADES_KEPT = 10_000  # per symbol, for GET /fapi/v1/aggTrades
# The price loop wakes at most this often; faster rates send every update that fell due since
# the last wakeup in one batch, so its CPU follows the updates sent, not a sub-millisecond timer
# (uvloop rounds such timers to 0 ms and spins).
MIN_MARKET_WAKE = 0.02
_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class BalanceTruth:
    """Exact state of one asset."""

    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    available_balance: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class PositionTruth:
    """Exact state of one position (``side``: ``BOTH``, or ``LONG``/``SHORT`` in hedge mode)."""

    symbol: str
    amount: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    leverage: int
    side: str = "BOTH"


@dataclass(frozen=True, slots=True)
class OrderTruth:
    """Exact state of one open order."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    status: str
    reduce_only: bool
    update_time: int


@dataclass(frozen=True, slots=True)
class Truth:
    """The account as the exchange knows it, for comparing with a client's cache
    (``positions`` by symbol; in hedge mode by ``SYMBOL:LONG`` and ``SYMBOL:SHORT``)."""

    balances: dict[str, BalanceTruth]
    positions: dict[str, PositionTruth]
    open_orders: list[OrderTruth]


@dataclass(slots=True)
class _Streams:
    book: str
    agg: str
    mark: str
    mark_1s: str
    klines: dict[str, str]  # interval -> stream name
    depths: list[tuple[str, int, float]]  # (stream name, levels, seconds between pushes)


class SimExchange:
    """A Binance USD-M futures exchange simulated in-process, speaking the wire protocol."""

    def __init__(
        self,
        settings: SimSettings,
        *,
        clock: Callable[[], float] | None = None,
        account_file: Path | None = None,
        specs: Mapping[str, SymbolSpec] | None = None,
        history: Mapping[str, list[Candle]] | None = None,
    ) -> None:
        """``account_file``: where the paper account lives across runs (``None``: a fresh
        account that is not saved). A damaged file raises ``AccountFileError`` naming it.

        ``specs``: the contracts it may list instead of the catalogue (paper trading: the
        venue's own filters, its price now as ``start_price``); ``history``: 1-minute candles
        before the start per symbol instead of the seeded random past (the venue's own)."""
        catalogue: Mapping[str, SymbolSpec] = SYMBOL_CATALOGUE if specs is None else specs
        check_settings(settings, catalogue)
        self.account_file = account_file
        saved = account.load(account_file) if account_file is not None else None
        if saved is not None:
            unlisted = sorted(saved.symbols() - set(settings.symbols))
            unknown = [s for s in unlisted if s not in catalogue]
            if unknown:
                raise account.AccountFileError(
                    f"the simulator account {account_file} holds {unknown}, which the "
                    "simulator does not list"
                )
            # Symbols the saved account holds stay listed, so nothing it owns vanishes.
            settings = msgspec.structs.replace(settings, symbols=[*settings.symbols, *unlisted])
        self.settings = settings
        self.clock: Callable[[], float] = clock or time.time
        seed = settings.seed
        self.injector = FaultInjector(settings.faults, seed)
        self.late_orders = LateOrders(self.injector)
        self.paths = {
            s: PricePath(catalogue[s], seed, settings.updates_per_second) for s in settings.symbols
        }
        start_ms = int(self.clock() * 1000)
        # Candles of every interval, from the trades streamed, after a seeded history.
        self.candles: dict[str, SymbolCandles] = {}
        # The aggregated trades of that history, made from its minutes when asked for.
        self.history_trades: dict[str, HistoryTrades] = {}
        for s, path in self.paths.items():
            candles = self.candles[s] = SymbolCandles()
            if history is not None and s in history:
                minutes = history[s]
            else:
                minutes = seed_history(
                    seed=seed,
                    symbol=s,
                    end_open=open_time_of("1m", start_ms),
                    end_mid=path.mid_ticks,
                    tick_units=path.tick_units,
                    top_units=path.top_units,
                    volatility_per_sqrt_second=VOLATILITY_PER_SQRT_SECOND,
                )
            candles.seed(minutes)
            self.history_trades[s] = HistoryTrades(
                minutes,
                tick_units=path.tick_units,
                key=f"{seed}:history-trades:{s}",
                next_agg_id=path.agg_id + 1,
                next_trade_id=path.trade_id + 1,
            )
        self.agg_trades: dict[str, deque[AggRecord]] = {
            s: deque(maxlen=AGG_TRADES_KEPT) for s in self.paths
        }
        self.engine = Engine(
            {s: catalogue[s] for s in settings.symbols},
            dict(settings.balances),
            leverage=settings.leverage,
            maker_fee=settings.maker_fee,
            taker_fee=settings.taker_fee,
            quotes={s: p.quote() for s, p in self.paths.items()},
            dual=settings.dual_side_position,
        )
        # A new account's balances were credited when it opened: a balance with updateTime 0
        # reads as never initialised (ccxt skips it).
        self.engine.balance_update_time = dict.fromkeys(self.engine.wallet, start_ms)
        if saved is not None:
            account.restore(self.engine, saved)
        self._lock = account.AccountLock(account_file) if account_file is not None else None
        # Account changes (emitted event batches) and how many of them the file holds.
        self._changes = 0
        self._saved_changes = 0
        self._last_save = 0.0
        # A periodic write may still run in its thread when ``stop`` saves: the newer one wins.
        self._write_lock = threading.Lock()
        self._written_changes = -1
        self.limiter = RateLimiter(
            settings.weight_limit_1m,
            settings.order_limit_10s,
            settings.order_limit_1m,
            strikes=settings.rate_limit_strikes,
            ban_seconds=settings.ban_seconds,
        )
        self.listen_keys = ListenKeys(seed)
        self.account_alias = "Sim" + random.Random(f"{seed}:alias").choice(_ID_ALPHABET)
        # Seeded by the order-id counter too, so a restored account draws new client ids.
        self._ids = random.Random(f"{seed}:client-order-ids:{self.engine.next_order_id}")
        self._faults_changed_at = 0.0
        self._faults_changed_clock = self.clock()
        # ``user_stream_down``: user-data connections are refused until then (simulator clock)
        self._user_down_until = self._faults_changed_clock + settings.faults.user_stream_down
        self.hub = StreamHub(
            StreamsContext(
                settings=lambda: self.settings,
                injector=self.injector,
                valid_listen_key=self._valid_listen_key,
                faults_changed_at=lambda: self._faults_changed_at,
                clock=self.clock,
                user_stream_down=self.user_stream_is_down,
                faults_changed_clock=lambda: self._faults_changed_clock,
            )
        )
        self._filter: UserEventFilter | None = None
        # Test hooks for hostile data (None: off). ``tamper_user`` may rewrite each user-data
        # event before it is encoded (or return the raw bytes to send); ``tamper_rest`` may
        # rewrite each successful REST answer ``(method, path, result)`` (or return raw bytes).
        # What is tampered is only what goes on the wire: the engine's truth is untouched.
        self.tamper_user: Callable[[dict[str, Any]], dict[str, Any] | bytes] | None = None
        self.tamper_rest: Callable[[str, str, Any], Any] | None = None
        self._filter_key: str | None = None
        self._stream_names = {
            s: _Streams(
                f"{s.lower()}@bookTicker",
                f"{s.lower()}@aggTrade",
                f"{s.lower()}@markPrice",
                f"{s.lower()}@markPrice@1s",
                {i: f"{s.lower()}@kline_{i}" for i in INTERVALS},
                [
                    (f"{s.lower()}@depth{levels}{speed}", levels, every)
                    for levels in DEPTH_LEVELS
                    for speed, every in DEPTH_INTERVALS.items()
                ],
            )
            for s in settings.symbols
        }
        self._last_mark: dict[str, tuple[float, float]] = {}
        self._last_kline: dict[str, float] = {}
        self._last_depth: dict[str, tuple[float, int]] = {}  # stream -> (pushed at, last u)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # How often the price loop woke up (each wakeup sends every update due by then).
        self.market_wakeups = 0
        self._host = "127.0.0.1"
        self._port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve REST and WebSocket on ``host:port`` (0 picks a free port) and start the timers."""
        if self._runner is not None:
            raise RuntimeError("SimExchange already started")
        if self._lock is not None:
            self._lock.acquire()
        try:
            await self._serve(host, port)
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    async def _serve(self, host: str, port: int) -> None:
        app = web.Application(client_max_size=64 * 1024)
        rest = RestApi(self)
        rest.routes.update(MarketApi(self).routes())
        app.router.add_route("*", "/fapi/{tail:.*}", rest.dispatch)
        for prefix in ("", "/public", "/market", "/private"):
            app.router.add_get(prefix + "/ws", self.hub.handle)
            app.router.add_get(prefix + "/ws/{streams:.+}", self.hub.handle)
            app.router.add_get(prefix + "/stream", self.hub.handle)
        app.router.add_route("*", "/{tail:.*}", rest.dispatch)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            sock = socket.create_server((host, port), reuse_port=False)
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = host
        self._port = int(sock.getsockname()[1])
        self._faults_changed_at = asyncio.get_running_loop().time()
        self._tasks = [
            asyncio.create_task(self._housekeeping(), name="sim-housekeeping"),
            asyncio.create_task(self._market(), name="sim-market"),
        ]

    async def stop(self) -> None:
        """Close every socket and task."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        if self._filter is not None:
            self._filter.close()
            self._filter = None
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            try:
                await self.save()
            finally:
                if self._lock is not None:
                    self._lock.release()

    async def save(self) -> None:
        """Write the account to its file (atomically, off the event loop) if it changed."""
        if self.account_file is None or (
            self._changes == self._saved_changes and self.account_file.exists()
        ):
            return
        changes = self._changes
        data = account.encode(account.capture(self.engine, self.server_ms()))
        await asyncio.to_thread(self._write, self.account_file, data, changes)
        self._saved_changes = max(self._saved_changes, changes)

    def _write(self, path: Path, data: bytes, changes: int) -> None:
        with self._write_lock:
            if changes > self._written_changes:
                account.write_atomic(path, data)
                self._written_changes = changes

    async def __aenter__(self) -> Self:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        return self._port

    @property
    def rest_url(self) -> str:
        """Base URL for REST, e.g. ``http://127.0.0.1:PORT`` (append ``/fapi/v1/time``)."""
        return f"http://{self._host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """Base URL for streams, e.g. ``ws://127.0.0.1:PORT`` (append ``/ws/<stream>``)."""
        return f"ws://{self._host}:{self._port}"

    # ------------------------------------------------------------------ faults and truth

    @property
    def faults(self) -> FaultSettings:
        """Current fault settings."""
        return self.injector.settings

    @faults.setter
    def faults(self, value: FaultSettings) -> None:
        self.injector.settings = value
        self._touch_faults()

    def set_faults(self, **changes: Any) -> FaultSettings:
        """Switch faults at run time (``set_faults(drop_user_events=0.2)``); timers restart."""
        settings = self.injector.update(**changes)
        self._touch_faults()
        return settings

    def _touch_faults(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._faults_changed_at = asyncio.get_running_loop().time()
        self._faults_changed_clock = self.clock()
        down = self.injector.settings.user_stream_down
        self._user_down_until = self._faults_changed_clock + down if down else 0.0
        if down:
            self.hub.drop_user_connections()

    def user_stream_is_down(self) -> bool:
        """The ``user_stream_down`` fault refuses user-data connections now."""
        return self.clock() < self._user_down_until

    def fault_counts(self) -> dict[str, int]:
        """How many times each fault was injected."""
        return dict(self.injector.counts)

    def truth(self) -> Truth:
        """The exact account state (balances, positions, open orders)."""
        engine = self.engine
        unrealized = engine.total_unrealized()
        balances = {
            asset: BalanceTruth(
                wallet,
                wallet,
                engine.available_balance() if asset == MARGIN_ASSET else wallet,
                unrealized if asset == MARGIN_ASSET else Decimal(0),
            )
            for asset, wallet in engine.wallet.items()
        }
        positions = {
            (s if p.side == "BOTH" else f"{s}:{p.side}"): PositionTruth(
                s,
                p.amount,
                p.entry_price,
                p.realized,
                engine.leg_unrealized(p),
                p.leverage,
                p.side,
            )
            for s in engine.specs
            for p in engine.legs(s)
        }
        orders = [
            OrderTruth(
                o.symbol,
                o.order_id,
                o.client_order_id,
                o.side.value,
                o.type.value,
                o.time_in_force.value,
                o.price,
                o.orig_qty,
                o.executed_qty,
                o.status.value,
                o.reduce_only,
                o.update_time,
            )
            for s in engine.specs
            for o in sorted(engine.open_orders[s].values(), key=lambda o: o.order_id)
        ]
        return Truth(balances, positions, orders)

    # ------------------------------------------------------------------ time

    def server_ms(self) -> int:
        """Server time in ms: the clock plus the injected skew."""
        return int(self.clock() * 1000) + self.injector.settings.clock_skew_ms

    # ------------------------------------------------------------------ trading

    def submit_order(
        self,
        *,
        symbol: str,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
        price: Decimal | None,
        time_in_force: TimeInForce,
        reduce_only: bool,
        client_order_id: str | None,
        position_side: str = "BOTH",
    ) -> PlaceResult:
        """Place an order and publish its events; raise ``BinanceError`` if it is rejected."""
        if client_order_id is None:
            client_order_id = "sim" + "".join(self._ids.choice(_ID_ALPHABET) for _ in range(19))
        result = self.engine.place_order(
            symbol=symbol,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            time_in_force=time_in_force,
            reduce_only=reduce_only,
            client_order_id=client_order_id,
            now=self.server_ms(),
            position_side=position_side,
        )
        self.emit(result.events)
        return result

    async def place_order(
        self,
        symbol: str,
        side: str,
        quantity: Decimal | str,
        *,
        order_type: str = "MARKET",
        price: Decimal | str | None = None,
        time_in_force: str = "GTC",
        reduce_only: bool = False,
        client_order_id: str | None = None,
        position_side: str = "BOTH",
    ) -> dict[str, Any]:
        """Trade in-process (no REST faults); returns the order as ``newOrderRespType=RESULT``."""
        result = self.submit_order(
            symbol=symbol,
            side=Side(side),
            order_type=OrderType(order_type),
            quantity=Decimal(quantity),
            price=Decimal(price) if price is not None else None,
            time_in_force=TimeInForce(time_in_force),
            reduce_only=reduce_only,
            client_order_id=client_order_id,
            position_side=position_side,
        )
        return wire.order_json(result.final, self.engine.specs[symbol])

    def cancel(self, order: Order) -> Order:
        """Cancel an open order and publish the event."""
        self.emit(self.engine.cancel_order(order, self.server_ms()))
        return order.snapshot()

    def cancel_all(self, symbol: str) -> None:
        """Cancel every open order of a symbol."""
        self.emit(self.engine.cancel_all(symbol, self.server_ms()))

    def set_leverage(self, symbol: str, leverage: int) -> None:
        """Change leverage and publish ``ACCOUNT_CONFIG_UPDATE``."""
        self.emit([self.engine.set_leverage(symbol, leverage, self.server_ms())])

    async def move_price(self, symbol: str, price: Decimal | str) -> None:
        """Put a symbol's mid price at ``price`` now: publish the tick and fill what it crosses."""
        path = self.paths[symbol]
        now = self.server_ms()
        self._on_tick(symbol, path.jump(Decimal(price)), now, asyncio.get_running_loop().time())

    def apply_quote(
        self, symbol: str, bid: Decimal, bid_qty: Decimal, ask: Decimal, ask_qty: Decimal
    ) -> None:
        """Take a top of book from elsewhere (paper trading: the venue's live quote): publish
        it and fill the resting orders it crosses, as a tick of the price path would."""
        path = self.paths[symbol]
        pp, qp = path.pp, path.qp
        tick = path.set_quote(
            int(bid.scaleb(pp)),
            int(bid_qty.scaleb(qp)),
            int(ask.scaleb(pp)),
            int(ask_qty.scaleb(qp)),
        )
        self._on_quote(symbol, tick, self.server_ms(), asyncio.get_running_loop().time())

    def apply_trade(
        self, symbol: str, price: Decimal, qty: Decimal, buyer_maker: bool, trades: int
    ) -> None:
        """Record a trade from elsewhere (paper trading: the venue's aggTrade) in the candles
        and the aggTrade stream; the book and the account are not touched."""
        path = self.paths[symbol]
        tick = path.set_trade(
            int(price.scaleb(path.pp)), int(qty.scaleb(path.qp)), buyer_maker, trades
        )
        self._on_trade(symbol, tick, self.server_ms(), asyncio.get_running_loop().time())

    # ------------------------------------------------------------------ listenKey

    def _valid_listen_key(self, key: str) -> bool:
        return self.listen_keys.valid(self.server_ms()) == key

    def _validity_ms(self) -> int:
        return int(self.settings.listen_key_validity * 1000)

    def create_listen_key(self) -> str:
        """Start (or extend) the user-data stream."""
        return self.listen_keys.create(self.server_ms(), self._validity_ms())

    def keepalive_listen_key(self, key: str | None) -> str:
        """Extend the active key by the validity period."""
        return self.listen_keys.keepalive(key, self.server_ms(), self._validity_ms())

    def delete_listen_key(self, key: str | None) -> None:
        """Invalidate the active key; its connections stay open but receive nothing more."""
        self.listen_keys.delete(key, self.server_ms())
        self._drop_filter()

    def _expired(self, key: str) -> None:
        self._drop_filter()
        self.hub.publish_user(key, orjson.dumps(wire.listen_key_expired(key, self.server_ms())))

    def _drop_filter(self) -> None:
        if self._filter is not None:
            self._filter.close()
        self._filter = None
        self._filter_key = None

    # ------------------------------------------------------------------ events

    def emit(self, events: list[Event]) -> None:
        """Render engine events and push them through the fault filter to the user stream."""
        if events:
            self._changes += 1
        now = self.server_ms()
        key = self.listen_keys.valid(now)
        if key is None or not self.hub.has_user_listeners(key) or not events:
            return
        if self._filter_key != key:
            self._drop_filter()
            self._filter = UserEventFilter(
                self.injector,
                functools.partial(self.hub.publish_user, key),
                lambda: self.settings.user_event_delay,
            )
            self._filter_key = key
        assert self._filter is not None
        specs = self.engine.specs
        for event in events:
            payload: dict[str, Any]
            if isinstance(event, OrderEvent):
                payload = wire.order_trade_update(event, specs[event.order.symbol], now)
            elif isinstance(event, AccountEvent):
                payload = wire.account_update(event, self.engine, now)
            elif isinstance(event, LeverageEvent):
                payload = wire.account_config_update(event, now)
            elif isinstance(event, TradeEvent):
                if not self.settings.trade_lite:
                    continue
                payload = wire.trade_lite(event, specs[event.order.symbol], now)
            tampered = payload if self.tamper_user is None else self.tamper_user(payload)
            raw = tampered if isinstance(tampered, bytes) else orjson.dumps(tampered)
            self._filter.push(raw)

    # ------------------------------------------------------------------ background tasks

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        last_forced = loop.time()
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            try:
                now = loop.time()
                expired = self.listen_keys.expire_due(self.server_ms())
                if expired is not None:
                    self._expired(expired)
                every = self.faults.expire_listen_key_every
                last_forced = max(last_forced, self._faults_changed_at)
                if every and now - last_forced >= every:
                    last_forced = now
                    forced = self.listen_keys.force_expire()
                    if forced is not None:
                        self.injector.count("expire_listen_key_every")
                        self._expired(forced)
                self.hub.housekeeping(now)
                if now - self._last_save >= self.settings.save_interval:
                    self._last_save = now
                    await self.save()
            except Exception:
                log.exception("sim: housekeeping failed")

    async def _market(self) -> None:
        ups = self.settings.updates_per_second
        if ups <= 0:
            return
        loop = asyncio.get_running_loop()
        period = 1.0 / ups
        start = loop.time()
        due = dict.fromkeys(self.paths, start)
        while True:
            now = loop.time()
            self.market_wakeups += 1
            try:
                for symbol, path in self.paths.items():
                    if now - due[symbol] > 1.0:
                        due[symbol] = now
                    while due[symbol] <= now:
                        due[symbol] += period
                        ms = self.server_ms()
                        self._on_tick(symbol, path.step(), ms, now)
            except Exception:
                log.exception("sim: market update failed")
            await asyncio.sleep(max(MIN_MARKET_WAKE, min(due.values()) - loop.time()))

    def _on_tick(self, symbol: str, tick: Tick, now_ms: int, loop_now: float) -> None:
        self._on_quote(symbol, tick, now_ms, loop_now)
        self._on_trade(symbol, tick, now_ms, loop_now)

    def _on_quote(self, symbol: str, tick: Tick, now_ms: int, loop_now: float) -> None:
        """A new top of book: match, then publish bookTicker, markPrice and depth."""
        path = self.paths[symbol]
        events = self.engine.on_quote(symbol, path.quote(), now_ms)
        if events:
            self.emit(events)
        hub = self.hub
        names = self._stream_names[symbol]
        if hub.has_subscribers(names.book) or hub.has_subscribers("!bookTicker"):
            raw = orjson.dumps(wire.book_ticker(path, tick, now_ms))
            hub.publish(names.book, raw)
            hub.publish("!bookTicker", raw)
        last_1s, last_3s = self._last_mark.get(symbol, (-1e9, -1e9))
        if loop_now - last_1s >= 1.0 or loop_now - last_3s >= 3.0:
            raw = orjson.dumps(wire.mark_price_update(path, tick, now_ms))
            if loop_now - last_1s >= 1.0:
                last_1s = loop_now
                hub.publish(names.mark_1s, raw)
            if loop_now - last_3s >= 3.0:
                last_3s = loop_now
                hub.publish(names.mark, raw)
            self._last_mark[symbol] = (last_1s, last_3s)
        self._depth(symbol, tick, now_ms, loop_now)

    def _on_trade(self, symbol: str, tick: Tick, now_ms: int, loop_now: float) -> None:
        """The tick's trade: publish aggTrade, add it to the candles."""
        path = self.paths[symbol]
        name = self._stream_names[symbol].agg
        if self.hub.has_subscribers(name):
            self.hub.publish(name, orjson.dumps(wire.agg_trade(path, tick, now_ms)))
        self._candles(symbol, path, tick, now_ms, loop_now)

    def _candles(
        self, symbol: str, path: PricePath, tick: Tick, now_ms: int, loop_now: float
    ) -> None:
        """Add the tick's trade to every interval's candle and the aggTrades history; push
        each candle that closed (``x`` true) and, every 250 ms, the open one of each interval."""
        price, qty = tick.trade_price, tick.trade_qty
        self.agg_trades[symbol].append(
            AggRecord(
                tick.agg_id,
                price,
                qty,
                tick.first_trade_id,
                tick.last_trade_id,
                now_ms,
                tick.buyer_maker,
            )
        )
        closed = self.candles[symbol].add_trade(
            now_ms,
            price,
            qty,
            price * qty,
            not tick.buyer_maker,
            tick.first_trade_id,
            tick.last_trade_id,
        )
        hub = self.hub
        names = self._stream_names[symbol].klines
        pp, qp = path.pp, path.qp
        for interval, candle in closed:
            name = names[interval]
            if hub.has_subscribers(name):
                event = market_wire.kline_event(symbol, interval, candle, pp, qp, now_ms)
                event["k"]["x"] = True
                hub.publish(name, orjson.dumps(event))
        if loop_now - self._last_kline.get(symbol, -1e9) >= KLINE_INTERVAL:
            self._last_kline[symbol] = loop_now
            series = self.candles[symbol].series
            for interval, name in names.items():
                if hub.has_subscribers(name):
                    current = series[interval].current
                    assert current is not None
                    event = market_wire.kline_event(symbol, interval, current, pp, qp, now_ms)
                    hub.publish(name, orjson.dumps(event))

    def _depth(self, symbol: str, tick: Tick, now_ms: int, loop_now: float) -> None:
        """Push ``@depth<levels>`` (the top levels of the book) at each stream's cadence."""
        hub = self.hub
        for name, levels, every in self._stream_names[symbol].depths:
            if not hub.has_subscribers(name):
                continue
            pushed_at, previous = self._last_depth.get(name, (-1e9, tick.update_id - 1))
            if loop_now - pushed_at < every:
                continue
            self._last_depth[name] = (loop_now, tick.update_id)
            book = self.engine.depth(symbol, levels)
            event = market_wire.depth_event(
                self.engine.specs[symbol], book, previous + 1, tick.update_id, previous, now_ms
            )
            hub.publish(name, orjson.dumps(event))
