"""``tradeloop backtest --through-sockets``: the data through the real connector and the
simulator on loopback, with the simulator's faults.

The strategies, the core, the journal and the report are those of an in-process backtest; the
exchange is a ``SimExchange`` on a loopback port whose prices are the data's (no random walk),
on the backtest's manual clock. The ``binance`` connector talks to it over REST and WebSocket
and reconciliation runs, so the simulator's faults (``plugins.sim.faults``, ``--fault``) hit
the strategies as a bad stream would in a live run.

Lockstep: after each instant's prices the driver waits until the connector has delivered
every tick sent, every REST request is answered, every user-data message queued to the
connector has been taken and the loop is still. An order a tick started is matched at that
tick's time, as in-process. A message a fault loses (a dropped connection) is waited for
``WAIT`` seconds of real time (user-data messages: until their connection closed), then
counted as lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loguru import logger

from framework import BotContext, ExchangeEndpoint, hookimpl
from framework.cache import AccountCache, AccountView
from framework.errors import TradeloopError
from framework.tasks import cancel_and_wait
from framework.types import Fill, ReconcileResult, Tick

if TYPE_CHECKING:
    from framework.runtime import Bot
    from plugins.sim.exchange import SimExchange

    from .clock import BacktestClock
    from .feed import SymbolFeed
    from .results import Recorder

NAME = "backtest_sockets"
PROVIDER = "backtest"
WAIT = 10.0
"""Real seconds the driver waits for a tick, an answer or a user-data message before it
counts it as lost (a fault dropped its connection) and goes on."""
SLICE = 0.2
"""Real seconds between looks at a wait that makes no progress (a user-data connection that
closed under its messages ends the wait at once)."""
TURNS = 8
"""Loop passes with nothing new before the bot counts as still."""
FINAL_STEP = 1.0
"""Seconds the clock moves per step while the final reconcile runs."""
FINAL_WITHIN = 60.0
"""Real seconds the final reconcile may take."""


class SocketsBridge:
    """Publishes the simulator as the exchange, on the bot's clock, and counts what the
    connector took from it (a frame tap), so the driver knows when the bot is still."""

    start_priority = 50  # where the simulator would start: before the connector

    def __init__(self) -> None:
        self.sim: SimExchange | None = None
        self.taken: dict[str, int] = {}
        self.sent = 0
        self.answered = 0
        self.delivered: dict[str, int] = {}
        self.expected: dict[str, int] = {}
        self.user_lost = 0
        self.lost: dict[str, int] = {"ticks": 0, "user_data": 0, "rest": 0}
        self.reconciles: list[ReconcileResult] = []
        self._changed = asyncio.Event()

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Publish the simulator (its clock is the bot's) and tap the connector's frames."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        sim = self.sim
        assert sim is not None, "the runner gives the bridge its simulator before the start"
        ctx.publish_exchange_endpoint(
            ExchangeEndpoint(
                rest_url=sim.rest_url,
                stream_url=sim.ws_url,
                api_key=sim.settings.api_key,
                api_secret=sim.settings.api_secret,
                clock=ctx.clock.time,
                provider=PROVIDER,
            )
        )
        ctx.add_frame_tap(self)
        try:
            yield
        finally:
            ctx.remove_frame_tap(self)
            ctx.publish_exchange_endpoint(None)

    # ----------------------------------------------------------------------- FrameTap

    def stream_frames(self, stream: str) -> Callable[[bytes], None]:
        """Count the frames the connector takes from ``stream``."""
        taken = self.taken
        taken.setdefault(stream, 0)
        changed = self._changed

        def took(data: bytes) -> None:
            taken[stream] += 1
            changed.set()

        return took

    def rest_sent(self) -> float:
        """A request left."""
        self.sent += 1
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
        """A request was answered (or failed)."""
        self.answered += 1
        self._changed.set()

    # -------------------------------------------------------------------------- hooks

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        """The connector delivered a tick."""
        if tick.update_id > self.delivered.get(tick.symbol, 0):
            self.delivered[tick.symbol] = tick.update_id
        self._changed.set()

    @hookimpl
    def on_reconcile_result(self, result: ReconcileResult) -> None:
        """Keep every reconcile's result (the drift it found and repaired)."""
        self.reconciles.append(result)

    # ------------------------------------------------------------------------ lockstep

    def _user_behind(self) -> int:
        """User-data messages queued to the connector and not taken yet (a message counted as
        lost that arrives after all lowers the count of lost ones again)."""
        assert self.sim is not None
        behind = self.sim.hub.user_sent - self.user_lost - self.taken.get("user_data", 0)
        if behind < 0:
            self.user_lost = max(0, self.user_lost + behind)
            self.lost["user_data"] = max(0, self.lost["user_data"] + behind)
            return 0
        return behind

    def _user_connections(self) -> set[object]:
        assert self.sim is not None
        return {c for conns in self.sim.hub.users.values() for c in conns}

    def _any_closed(self, watched: set[object]) -> bool:
        """True when a user-data connection of ``watched`` has closed: what it did not deliver
        is lost for sure."""
        assert self.sim is not None
        open_now = self.sim.hub.connections
        return any(c not in open_now or getattr(c, "closing", False) for c in watched)

    def _waiting_for(self) -> str:
        """What the bot has yet to take: ``ticks``, ``rest``, ``user_data`` or ``""``."""
        delivered = self.delivered
        for symbol, update_id in self.expected.items():
            if delivered.get(symbol, 0) < update_id:
                return "ticks"
        if self.sent > self.answered:
            return "rest"
        if self._user_behind() > 0:
            return "user_data"
        return ""

    def _give_up(self, what: str) -> None:
        """A message a fault lost: count it and stop waiting for it."""
        if what == "ticks":
            for symbol, update_id in self.expected.items():
                if self.delivered.get(symbol, 0) < update_id:
                    self.delivered[symbol] = update_id
                    self.lost["ticks"] += 1
        elif what == "rest":
            self.lost["rest"] += self.sent - self.answered
            self.answered = self.sent
        else:
            behind = self._user_behind()
            self.lost["user_data"] += behind
            self.user_lost += behind
        logger.warning("through sockets: the connector did not take a {} message", what)

    def _mark(self) -> tuple[int, ...]:
        assert self.sim is not None
        return (
            self.sent,
            self.answered,
            self.sim.hub.user_sent,
            self.taken.get("user_data", 0),
            self.sim.engine.next_order_id,
        )

    async def settle(self) -> None:
        """Until the bot took everything sent to it and the loop is still."""
        changed = self._changed
        waited = 0.0
        watched: set[object] = set()
        while True:
            changed.clear()
            waiting = self._waiting_for()
            if waiting:
                if waiting == "user_data" and not watched:
                    watched = self._user_connections()
                try:
                    async with asyncio.timeout(SLICE):
                        await changed.wait()
                    waited = 0.0
                except TimeoutError:
                    waited += SLICE
                    closed = (waiting == "user_data" and self._any_closed(watched)) or (
                        waiting == "ticks" and self._ticks_cut_off()
                    )
                    if waited >= WAIT or closed:
                        self._give_up(waiting)
                        waited = 0.0
                        watched = set()
                continue
            watched = set()
            mark = self._mark()
            for _ in range(TURNS):
                await asyncio.sleep(0)
            if self._mark() == mark and not self._waiting_for():
                return

    def _book_live(self, symbol: str) -> bool:
        """True when a connection that still delivers is subscribed to ``symbol``'s ticks."""
        assert self.sim is not None
        conns = self.sim.hub.market.get(f"{symbol.lower()}@bookTicker")
        return any(not (c.stale or c.silent or c.closing) for c in conns or ())

    def _ticks_cut_off(self) -> bool:
        """True when a tick still awaited has no delivering connection left (a fault)."""
        return any(
            self.delivered.get(symbol, 0) < update_id and not self._book_live(symbol)
            for symbol, update_id in self.expected.items()
        )

    def published(self, symbol: str) -> None:
        """The simulator just sent ``symbol``'s tick: the bot must take it before time moves
        (unless no connection delivers it: a fault cut it off)."""
        sim = self.sim
        assert sim is not None
        if self._book_live(symbol):
            self.expected[symbol] = sim.paths[symbol].last.update_id


async def drive_sockets(
    bot: Bot,
    bridge: SocketsBridge,
    clock: BacktestClock,
    feeds: list[SymbolFeed],
    symbols: list[str],
    recorder: Recorder,
    start_ms: int,
    end_ms: int,
) -> None:
    """Each instant in time order, as the in-process loop does, but each price goes to the
    simulator (its book moves, resting orders it crosses fill, bookTicker goes out) and the
    driver waits for the bot to take it and what it started (``SocketsBridge.settle``)."""
    from plugins.sim.engine import MARGIN_ASSET

    from .feed import merged

    sim = bridge.sim
    assert sim is not None
    engine = sim.engine
    specs = engine.specs
    spreads = [specs[s].tick_size * _spread_ticks(bot) for s in symbols]
    sizes = [specs[s].top_qty for s in symbols]
    trade_qty = [specs[s].min_qty for s in symbols]
    settle = bridge.settle

    def equity() -> Decimal:
        return engine.wallet[MARGIN_ASSET] + engine.total_unrealized()

    def exposed() -> bool:
        return any(p.amount for p in engine.positions.values())

    recorder.start(start_ms)
    next_minute = recorder.next_minute
    ticks = 0
    last_t = start_ms
    for t, index, price in merged(feeds):
        if t != last_t:
            await settle()
            if bot.ctx.stop_reason:
                logger.warning("backtest stopped early: {}", bot.ctx.stop_reason)
                break
            while t >= next_minute:
                recorder.sample(next_minute, equity(), exposed())
                next_minute = recorder.next_minute
            last_t = t
            now = t / 1000
            if clock.due(now):
                await clock.move_to(now, settle)
            else:
                clock.set_time(now)
        symbol = symbols[index]
        size = sizes[index]
        sim.apply_quote(symbol, price, size, price + spreads[index], size)
        sim.apply_trade(symbol, price, trade_qty[index], False, 1)
        bridge.published(symbol)
        ticks += 1
        recorder.first_price.setdefault(symbol, price)
        recorder.last_price[symbol] = price
    await settle()
    while next_minute <= end_ms:
        recorder.sample(next_minute, equity(), exposed())
        next_minute = recorder.next_minute
    await clock.move_to(end_ms / 1000, settle)
    await settle()
    recorder.ticks = ticks


def _spread_ticks(bot: Bot) -> int:
    from .config import BacktestSettings

    config = bot.loaded.configs.get("backtest")
    return config.spread_ticks if isinstance(config, BacktestSettings) else 1


async def wait_until_trading(bot: Bot, bridge: SocketsBridge) -> None:
    """Until the startup holds (the first reconcile) are released; ``TradeloopError`` naming
    the hold after ``FINAL_WITHIN`` seconds of real time."""
    try:
        async with asyncio.timeout(FINAL_WITHIN):
            while bot.ctx.trading_held:
                await bridge.settle()
                if bot.ctx.trading_held:
                    await asyncio.sleep(0.01)
    except TimeoutError:
        raise TradeloopError(
            f"through sockets: the strategies were still held after {FINAL_WITHIN:g} s "
            f"({bot.ctx.trading_held}); the data was not played"
        ) from None


async def final_reconcile(
    bot: Bot, bridge: SocketsBridge, clock: BacktestClock
) -> ReconcileResult | None:
    """Faults off, the exchange's clock past every event, then one reconcile: the cache the
    report's drift is measured on. ``None`` when reconciliation is off or did not finish."""
    from plugins.sim.config import FaultSettings

    sim = bridge.sim
    assert sim is not None
    sim.faults = FaultSettings()
    await bridge.settle()
    await clock.move_to(clock.time() + FINAL_STEP, bridge.settle)
    plugin = bot.ctx.plugin("reconciliation")
    reconcile_now = getattr(plugin, "reconcile_now", None)
    if reconcile_now is None:
        return None
    run = asyncio.ensure_future(reconcile_now("backtest end"))
    deadline = time.monotonic() + FINAL_WITHIN
    while not run.done() and time.monotonic() < deadline:
        await bridge.settle()
        if not run.done():
            await clock.move_to(clock.time() + FINAL_STEP, bridge.settle)
            await asyncio.sleep(0.001)
    if not run.done():
        await cancel_and_wait(run)
        logger.warning("through sockets: the final reconcile did not finish")
        return None
    result: ReconcileResult = run.result()
    await bridge.settle()
    return result


def exchange_fills(
    sim: SimExchange, owner_of: Callable[[str], str | None]
) -> list[tuple[Fill, str]]:
    """Every trade of the account as the exchange lists it, with the owner of its order."""
    from plugins.sim.engine import MARGIN_ASSET

    engine = sim.engine
    out: list[tuple[Fill, str]] = []
    for trade in engine.trades:
        order = engine.orders.get((trade.symbol, trade.order_id))
        client_id = order.client_order_id if order is not None else ""
        fill = Fill(
            symbol=trade.symbol,
            order_id=trade.order_id,
            trade_id=trade.trade_id,
            client_order_id=client_id,
            side=trade.side.value,
            price=trade.price,
            qty=trade.qty,
            fee=trade.commission,
            fee_asset=MARGIN_ASSET,
            realized_pnl=trade.realized_pnl,
            is_maker=trade.maker,
            event_time=trade.time,
        )
        out.append((fill, owner_of(client_id) or "" if client_id else ""))
    return out


def drift(cache: AccountView, account: AccountCache, sim: SimExchange) -> list[str]:
    """Every way the bot's cache differs from the simulator's truth ([] when equal): wallet
    balances, position amounts and entry prices, open orders, and trades the cache never got."""
    truth = sim.truth()
    out: list[str] = []
    for asset, b in truth.balances.items():
        held = cache.balances.get(asset)
        if held is None or held.wallet_balance != b.wallet_balance:
            wallet = held.wallet_balance if held is not None else None
            out.append(f"balance {asset}: the bot has {wallet}, the exchange {b.wallet_balance}")
    for symbol, p in truth.positions.items():
        pos = cache.position(symbol)
        amount = pos.amount if pos is not None else Decimal(0)
        if amount != p.amount:
            out.append(f"position {symbol}: the bot has {amount}, the exchange {p.amount}")
        elif pos is not None and p.amount and pos.entry_price != p.entry_price:
            out.append(
                f"position {symbol} entry price: the bot has {pos.entry_price}, "
                f"the exchange {p.entry_price}"
            )
    want = {(o.symbol, o.order_id): o for o in truth.open_orders}
    have = dict(cache.open_orders)
    for key in sorted(set(want) | set(have)):
        w, h = want.get(key), have.get(key)
        if w is None or h is None:
            out.append(
                f"open order {key[0]} {key[1]}: the bot has {h.status if h else 'none'}, "
                f"the exchange {w.status if w else 'none'}"
            )
        elif (h.status, h.executed_qty, h.orig_qty, h.price) != (
            w.status,
            w.executed_qty,
            w.orig_qty,
            w.price,
        ):
            out.append(
                f"open order {key[0]} {key[1]}: the bot has {h.status} {h.executed_qty}, "
                f"the exchange {w.status} {w.executed_qty}"
            )
    for trade in sim.engine.trades:
        if not account.has_fill(trade.symbol, trade.order_id, trade.trade_id):
            out.append(f"trade {trade.symbol} {trade.trade_id}: never reached the bot")
    return out


def sockets_section(
    bridge: SocketsBridge,
    sim: SimExchange,
    final: ReconcileResult | None,
    found: list[str],
    fills_seen: int,
    checked: int,
) -> dict[str, Any]:
    """What ``results.json`` says about the run's sockets: the faults set and injected, what
    was lost on the way, the reconciles and the drift left at the end; ``checked``: the
    exchange's trades when the drift was measured (orders still in the connector when the bot
    stopped may add ``trades_while_stopping``)."""
    faults = {
        name: value for name, value in sorted(_fault_values(sim.settings.faults).items()) if value
    }
    return {
        "faults": faults,
        "faults_injected": {k: v for k, v in sorted(sim.fault_counts().items()) if v},
        "lost_on_the_way": dict(bridge.lost),
        "reconciles": len(bridge.reconciles),
        "drift_found": sum(len(r.mismatches) for r in bridge.reconciles),
        "final_reconcile": final.status if final is not None else None,
        "fills_seen_by_the_bot": fills_seen,
        "exchange_trades": checked,
        "trades_while_stopping": len(sim.engine.trades) - checked,
        "drift_at_end": found,
    }


def _fault_values(faults: object) -> dict[str, Any]:
    import msgspec

    values: dict[str, Any] = msgspec.structs.asdict(faults)  # type: ignore[arg-type]
    return values
