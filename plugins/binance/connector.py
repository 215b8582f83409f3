"""``BinanceConnector``: the ``framework.ExchangeConnector`` for USD-M futures.

It owns one REST client (one aiohttp session, shared with the sockets), the user-data stream
(fed into an ``AccountSink``, normally ``ctx.cache``) and the market streams (``on_tick``).
Spot is a later connector: it will reuse ``rest``, ``ws``, ``governor``, ``signing`` and
``decode`` and replace ``user_stream`` (spot user data is a WebSocket-API subscription,
``userDataStream.subscribe.signature``, not a listenKey; FACTS.md §2.3).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Literal

import msgspec
from loguru import logger

from framework.exchange import FrameTap
from framework.rules import SymbolRules
from framework.types import (
    AccountSnapshot,
    Candle,
    Fill,
    Order,
    OrderRequest,
    StreamState,
    StreamStatus,
    Tick,
    UnreadableEntry,
)

from .checks import Names, rest_balance_problem, rest_position_problem, rest_trade_problem
from .config import BinanceConfig, Endpoints
from .counters import EventCounters
from .decode import RestBalance, RestPosition, RestTrade, ServerTime
from .errors import FilterRejectedError, UnlistedSymbols
from .history import fetch_candles
from .ids import ClientOrderIds
from .market_stream import MAX_STREAMS_PER_CONNECTION, MarketStream, stream_names
from .orders import ALL_OPEN_ORDERS_WEIGHT, DEFAULT_OWNER, OrderService
from .rest import RestClient
from .rows import BadRow, Rows
from .rules import RulesService
from .signing import make_signer, mask_key
from .sink import AccountSink
from .user_stream import UserDataStream
from .ws import StreamRunner

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]
StatusCallback = Callable[[StreamStatus], None]


TRADES_PAGE = 1000  # userTrades' largest page
TRADES_WEIGHT = 5  # userTrades, with or without orderId (FACTS.md §1.2)
TRADES_PATH = "/fapi/v1/userTrades"
BALANCE_PATH = "/fapi/v3/balance"
POSITIONS_PATH = "/fapi/v3/positionRisk"


def _unreadable(family: Literal["balance", "position", "order"], bad: BadRow) -> UnreadableEntry:
    """A dropped REST entry as the snapshot reports it to reconciliation."""
    return UnreadableEntry(
        family=family,
        asset=bad.asset,
        symbol=bad.symbol,
        side=bad.side,
        order_id=bad.order_id,
        problem=bad.problem,
    )


class BinanceConnector:
    """USD-M futures over REST + two WebSocket streams."""

    name = "binance_futures"
    trades_page = TRADES_PAGE

    def __init__(
        self,
        *,
        endpoints: Endpoints,
        api_key: str,
        api_secret: str,
        config: BinanceConfig,
        symbols: Sequence[str],
        sink: AccountSink,
        emit_tick: Callable[[Tick], None],
        on_status: StatusCallback,
        wall_time: Callable[[], float],
        exchange_time: Callable[[], float] = time.time,
        recv_window_ms: int = 5000,
        spawn: Spawn | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        publish_rules: Callable[[list[SymbolRules]], None] | None = None,
        owners: Sequence[str] = (),
        taps: Sequence[FrameTap] = (),
    ) -> None:
        """``owners``: the strategy instance ids, so ids of earlier runs map back to them."""
        self.endpoints = endpoints
        self.taps = tuple(taps)  # raw frames and REST answers go to these too (recorder)
        self.config = config
        self.symbols = list(dict.fromkeys(s.upper() for s in symbols))
        self.sink = sink
        self._emit_tick = emit_tick
        self._on_status = on_status
        self._wall_time = wall_time
        self._spawn_fn = spawn
        self._rng = rng or random.Random()
        self._api_key = api_key
        self.counters = EventCounters()
        self.names = Names()  # well-formed symbol and asset names seen (checks)
        self.rest = RestClient(
            base_url=endpoints.rest_url,
            api_key=api_key,
            signer=make_signer(config.key_type, api_secret),
            config=config,
            recv_window_ms=recv_window_ms,
            rng=self._rng,
            wall_time=exchange_time,
            counters=self.counters,
            names=self.names,
            taps=self.taps,
        )
        self.ids = ClientOrderIds(config.order_id_prefix, now_ms=self.rest.time.now_ms)
        self.orders = OrderService(
            self.rest,
            self.ids,
            resolve_attempts=config.resolve_attempts,
            not_found_spacing=config.not_found_spacing,
            clock=wall_time,
            sleep=sleep,
        )
        self._sleep = sleep
        self.rules = RulesService(self.rest, publish=publish_rules)
        self.last_ticks: dict[str, Tick] = {}
        self.user: UserDataStream | None = None
        self.markets: list[MarketStream] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.statuses: list[StreamStatus] = []
        self.listed: frozenset[str] = frozenset()  # TRADING symbols, read at start
        self.adopted: dict[str, int] = {}  # open orders found at start, per owner
        for owner in owners:  # so owner_of names them in ids of earlier runs, even hashed ones
            self.ids.tag(owner)

    def __repr__(self) -> str:
        return (
            f"BinanceConnector(rest={self.endpoints.rest_url!r}, api_key={mask_key(self._api_key)})"
        )

    # -------------------------------------------------------------------------- life

    async def start(self, *, user_data: bool = True, market_data: bool = True) -> None:
        """Open the session, sync time, load the exchange rules and check the symbols are
        listed (``UnlistedSymbols``), note the client order ids in use, start the streams and
        the rules' refresh schedule."""
        await self.rest.start()
        try:
            await self.rules.load()
        except Exception as exc:
            if self.symbols:
                raise
            logger.warning("could not read the exchange rules at start: {}", exc)
        self.listed = self.rules.listed
        if self.symbols:
            missing = [s for s in self.symbols if s not in self.listed]
            if missing:
                raise UnlistedSymbols(missing, self.listed)
        self._spawn(
            self.rules.refresh_loop(self.config.rules_refresh_interval, self._sleep),
            "rules-refresh",
        )
        if user_data:
            try:
                # ids in use: this run's ids stay clear of them; the orders are adopted
                self.adopt(await self.orders.open_orders())
            except Exception as exc:  # noqa: BLE001 - the streams still start; reconcile repairs
                logger.warning("could not read open orders at start: {}", exc)
            self.user = UserDataStream(
                rest=self.rest,
                endpoints=self.endpoints,
                config=self.config,
                sink=self.sink,
                orders=self.orders,
                counters=self.counters,
                on_state=self._state_handler("user_data"),
                rng=self._rng,
                names=self.names,
            )
            self._tap(self.user.runner)
            self._spawn(self.user.runner.run(), "user-data")
            self._spawn(self.user.keepalive_loop(), "listenkey-keepalive")
        if market_data and self.symbols:
            names = stream_names(self.symbols)
            chunks = [
                names[i : i + MAX_STREAMS_PER_CONNECTION]
                for i in range(0, len(names), MAX_STREAMS_PER_CONNECTION)
            ]
            for index, chunk in enumerate(chunks):
                label = "market" if len(chunks) == 1 else f"market{index + 1}"
                stream = MarketStream(
                    session=self.rest.session,
                    endpoints=self.endpoints,
                    streams=chunk,
                    config=self.config,
                    emit=self._emit_tick,
                    counters=self.counters,
                    on_state=self._state_handler(label),
                    last=self.last_ticks,
                    rng=self._rng,
                    name=label,
                    names=self.names,
                    horizon=self.rest.horizon(),
                )
                self.markets.append(stream)
                self._tap(stream.runner)
                self._spawn(stream.runner.run(), label)

    def adopt(self, orders: Sequence[Order]) -> None:
        """Open orders found at start go to the cache at once, so each instance sees the ones
        its client order ids name in ``open_orders()`` before it may trade; counted per owner
        (``-``: not placed by tradeloop)."""
        prior_fills = getattr(self.sink, "set_prior_fills", None)
        for order in orders:
            owner = self.owner_of(order.client_order_id) or "-"
            self.adopted[owner] = self.adopted.get(owner, 0) + 1
            self._acknowledged(order)
            if prior_fills is not None and order.executed_qty:
                # filled before this run watched it: history, as reconciliation seeds it
                prior_fills(order.symbol, order.order_id, order.executed_qty)
        if orders:
            logger.info(
                "open orders adopted at start: {}",
                ", ".join(f"{owner} {n}" for owner, n in sorted(self.adopted.items())),
            )

    def _tap(self, runner: StreamRunner) -> None:
        """Hand the runner's raw messages to every tap too (none: the read path is unchanged)."""
        for tap in self.taps:
            runner.add_tap(tap.stream_frames(runner.name))

    async def listed_symbols(self) -> frozenset[str]:
        """The symbols ``GET /fapi/v1/exchangeInfo`` lists with status ``TRADING`` (reloads
        the rules)."""
        await self.rules.load(brackets=False)
        return self.rules.listed

    async def wait_connected(self) -> None:
        """Until every stream has connected once (tests, startup)."""
        runners = [m.runner for m in self.markets]
        if self.user is not None:
            runners.append(self.user.runner)
        await asyncio.gather(*(r.connected.wait() for r in runners))

    async def close(self) -> None:
        """Stop the streams and close the session. The listenKey is not deleted."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.rules.close()
        if self.user is not None:
            await self.user.close()
        for market in self.markets:
            await market.runner.stop()
        await self.rest.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        if self._spawn_fn is not None:
            task = self._spawn_fn(coro, name)
        else:
            task = asyncio.get_running_loop().create_task(coro, name=f"binance:{name}")
        self._tasks.append(task)

    def _state_handler(self, stream: str) -> Callable[[StreamState, str, bool], None]:
        def announce(state: StreamState, reason: str, resync: bool) -> None:
            status = StreamStatus(
                stream=stream,
                state=state,
                at=self._wall_time(),
                reason=reason,
                needs_resync=resync,
            )
            self.statuses.append(status)
            if len(self.statuses) > 1000:
                del self.statuses[:500]
            logger.bind(log_key=stream).info(
                "stream {} {}: {}{}",
                stream,
                state.value,
                reason,
                " (resync needed)" if resync else "",
            )
            self._on_status(status)

        return announce

    # ------------------------------------------------------------------------ orders

    async def place_order(self, request: OrderRequest, *, owner: str = DEFAULT_OWNER) -> Order:
        """Send an order; an unknown outcome is resolved before this returns or raises.

        The exchange's answer (its state at its ``updateTime``) is applied to the account cache
        like a stream event, so an order whose every stream event is lost is still known (and
        its fills read back by reconciliation); a newer stream event still wins.
        """
        try:
            order = await self.orders.place(request, owner=owner)
        except FilterRejectedError as exc:
            # The venue's rules may have changed since they were read: read them again now.
            self.rules.refresh_soon(f"order on {request.symbol} refused ({exc.code} {exc.msg})")
            raise
        return self._acknowledged(order)

    def owner_of(self, client_order_id: str) -> str | None:
        """The strategy instance a client order id was made for, or ``None``."""
        return self.ids.owner_of(client_order_id)

    def new_client_order_id(self, owner: str) -> str:
        """A fresh ``<prefix>-<owner>-<run>-<n>`` id (see ``ids``)."""
        return self.ids.next(owner)

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        """Cancel an open order by its client order id; the answer is applied to the cache
        (as ``place_order``'s)."""
        return self._acknowledged(await self.orders.cancel(symbol, client_order_id))

    def _acknowledged(self, order: Order) -> Order:
        """Hand a REST answer's order state to the cache (event-time ordered, never raises)."""
        try:
            self.sink.apply_order(order)
        except Exception as exc:  # noqa: BLE001 - the order stands; reconciliation repairs
            logger.opt(exception=exc).error("order answer could not be applied: {!r}", exc)
        return order

    async def query_order(self, symbol: str, client_order_id: str) -> Order | None:
        """The order as the exchange knows it, or ``None``."""
        return await self.orders.query(symbol, client_order_id)

    async def fetch_fills(self, symbol: str, order_id: int) -> list[Fill]:
        """Every trade of one order, oldest first: ``GET /fapi/v1/userTrades`` with ``orderId``
        (weight 5 a page of up to 1,000 trades; a longer list is paged on with ``fromId``).

        The trade list carries no client order id: the fills' ``client_order_id`` is empty.
        """
        fills: list[Fill] = []
        params: dict[str, Any] = {"symbol": symbol, "orderId": order_id, "limit": TRADES_PAGE}
        while True:
            rows = await self._trades_page(params)
            page = rows.good
            fills.extend(t.to_fill() for t in page if t.order_id == order_id)
            if len(page) + len(rows.bad) < TRADES_PAGE or not page:
                break
            params = {**params, "fromId": max(t.id for t in page) + 1}
        fills.sort(key=lambda f: (f.event_time, f.trade_id))
        return fills

    async def fetch_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        """The account's trades of ``symbol`` with an id ``>= from_id`` (without it: the most
        recent), oldest first, at most ``TRADES_PAGE``: ``GET /fapi/v1/userTrades`` (weight 5).

        The trade list carries no client order id: the fills' ``client_order_id`` is empty.
        """
        params: dict[str, Any] = {"symbol": symbol, "limit": TRADES_PAGE}
        if from_id is not None:
            params["fromId"] = from_id
        rows = await self._trades_page(params)
        fills = [t.to_fill() for t in rows.good if t.symbol == symbol]
        fills.sort(key=lambda f: f.trade_id)
        return fills

    async def _trades_page(self, params: dict[str, Any]) -> Rows[RestTrade]:
        """One page of ``GET /fapi/v1/userTrades`` (weight 5), each row checked on its own."""
        return await self.rest.request(
            "GET",
            TRADES_PATH,
            params=params,
            type=Rows[RestTrade],
            signed=True,
            weight=TRADES_WEIGHT,
            decode=self.rest.rows(RestTrade, rest_trade_problem),
        )

    async def fetch_candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        """The ``limit`` most recent candles of ``symbol``, oldest first (``history``):
        ``GET /fapi/v1/klines`` in pages of 499 (weight 2 each), within the rate budget."""
        return await fetch_candles(self.rest, symbol, interval, limit)

    async def fetch_account_snapshot(self) -> AccountSnapshot:
        """The account from REST, with the exchange's own time read before any account request.

        ``GET /fapi/v1/time`` (weight 1) gives ``snapshot_time``: every account read below is
        served after it, so a change older than it is in the answers (the reconciliation rule,
        docs/reconciliation.md). Then ``/fapi/v3/balance`` and ``/fapi/v3/positionRisk`` (weight
        5 each); positionRisk lists every symbol with a position **or open orders**, so open
        orders are read per listed symbol (weight 1 each) instead of for all symbols (weight
        40), unless that would cost more. ``weight_used`` is the sum of the requests' weights.
        """
        await self.rest.maybe_resync()
        server = await self.rest.request("GET", "/fapi/v1/time", type=ServerTime, weight=1)
        snapshot_time = server.serverTime
        balances, positions = await asyncio.gather(
            self.rest.request(
                "GET",
                BALANCE_PATH,
                type=Rows[RestBalance],
                signed=True,
                weight=5,
                decode=self.rest.rows(RestBalance, rest_balance_problem),
            ),
            self.rest.request(
                "GET",
                POSITIONS_PATH,
                type=Rows[RestPosition],
                signed=True,
                weight=5,
                decode=self.rest.rows(RestPosition, rest_position_problem),
            ),
        )
        unreadable = [_unreadable("balance", bad) for bad in balances.bad]
        unreadable += [_unreadable("position", bad) for bad in positions.bad]
        weight = 1 + 5 + 5
        symbols = sorted({p.symbol for p in positions.good} | {b.symbol for b in positions.bad})
        every_symbol = any(not bad.symbol for bad in positions.bad)  # a symbol was unreadable
        bad_orders: list[BadRow] = []
        if every_symbol or len(symbols) >= ALL_OPEN_ORDERS_WEIGHT:  # one call for all
            open_orders, bad_orders = await self.orders.open_order_rows()
            weight += ALL_OPEN_ORDERS_WEIGHT
        else:
            per_symbol = await asyncio.gather(*(self.orders.open_order_rows(s) for s in symbols))
            open_orders = [order for orders, _ in per_symbol for order in orders]
            bad_orders = [bad for _, bads in per_symbol for bad in bads]
            weight += len(symbols)
        unreadable += [_unreadable("order", bad) for bad in bad_orders]
        return AccountSnapshot(
            # event_time: the exchange's updateTime of each entry, 0 when it has none
            balances=tuple(b.to_balance(0) for b in balances.good),
            positions=tuple(p.to_position(0) for p in positions.good),
            open_orders=tuple(open_orders),
            snapshot_time=snapshot_time,
            weight_used=weight,
            unreadable=tuple(unreadable),
        )

    # -------------------------------------------------------------- stream health

    def user_messages(self) -> int:
        """Messages received on the user-data stream so far (``framework.StreamHealth``)."""
        return self.user.runner.received if self.user is not None else 0

    def order_actions(self) -> int:
        """Orders placed and canceled so far, as the exchange acknowledged them."""
        return self.orders.stats.placed + self.orders.stats.canceled

    def restart_user_stream(self, reason: str) -> None:
        """Replace the user-data connection, new socket first, announced with a resync."""
        if self.user is not None:
            logger.warning("user-data stream: reconnecting ({})", reason)
            self.user.runner.request_switch(reason, resync=True)

    def rest_busy(self) -> bool:
        """The rate governor paces or blocks a request of weight 5 now."""
        delay, _ = self.rest.governor.delay_for(5, False)
        return delay > 0

    # ------------------------------------------------------------------------- stats

    def stats(self) -> Mapping[str, Any]:
        """The run summary's ``stream``, ``events``, ``rest``, ``order_api`` and
        ``adopted_orders`` sections."""
        runners = [m.runner for m in self.markets]
        if self.user is not None:
            runners.append(self.user.runner)
        user = self.user
        per_stream = {
            r.name: {
                "connects": r.stats.connects,
                "reconnects": r.stats.reconnects,
                "stale": r.stats.stale,
                "disconnects": r.stats.disconnects,
                "rotations": r.stats.rotations,
                "connect_failures": r.stats.connect_failures,
                "too_large": r.stats.too_large,
            }
            for r in runners
        }
        gov = self.rest.governor.stats
        return {
            "stream": {
                "connects": sum(r.stats.connects for r in runners),
                "reconnects": sum(r.stats.reconnects for r in runners),
                "stale": sum(r.stats.stale for r in runners),
                "too_large": sum(r.stats.too_large for r in runners),
                "listen_key_renewals": user.listen_key_renewals if user else 0,
                "keepalives": user.keepalives if user else 0,
                "by_stream": per_stream,
            },
            "events": self.counters.summary(),
            "rest": {
                "requests": self.rest.stats.requests,
                "retries": self.rest.stats.retries,
                "errors": self.rest.stats.errors,
                "timestamp_resyncs": self.rest.stats.timestamp_resyncs,
                "clock_jumps": self.rest.stats.clock_jumps,
                "time_offset_ms": round(self.rest.time.offset_ms, 1),
                "throttled": gov.throttled,
                "http_429": gov.http_429,
                "http_418": gov.http_418,
                "refused": gov.refused,
                "max_weight_1m": gov.max_weight,
                "too_large": self.rest.stats.too_large,
                "bad_answers": self.rest.stats.bad_answers,
                "thread_decodes": self.rest.stats.thread_decodes,
            },
            "rules": msgspec.structs.asdict(self.rules.stats),
            "order_api": {
                "placed": self.orders.stats.placed,
                "canceled": self.orders.stats.canceled,
                "unknown_outcomes": self.orders.stats.unknown_outcomes,
                "resolved_found": self.orders.stats.resolved_found,
                "resolved_by_stream": self.orders.stats.resolved_by_stream,
                "namesakes": self.orders.stats.namesakes,
                "resent": self.orders.stats.resent,
                "timestamp_resent": self.orders.stats.timestamp_resent,
                "timestamp_found": self.orders.stats.timestamp_found,
                "unresolved": self.orders.stats.unresolved,
                "adopted": sum(self.adopted.values()),
            },
            "adopted_orders": dict(sorted(self.adopted.items())),
        }
