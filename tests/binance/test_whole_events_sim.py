"""An exchange event is applied whole before any hook sees it (over real sockets).

A synchronous plugin reads ``ctx.cache`` from inside each account hook while the simulator
fills market orders: each fill arrives as an ``ORDER_TRADE_UPDATE`` (the order and its
trade) and an ``ACCOUNT_UPDATE`` (the USDT balance and the BTCUSDT position, one event time).
Whatever hook of an event fires first, every entry of that event is already in the cache.
"""

from __future__ import annotations

from framework import Balance, BotContext, Fill, Order, Position, hookimpl
from plugins.sim import SimExchange
from plugins.sim.testing import SimBotFactory, until


class CacheChecker:
    """Looks at the cache from inside each hook and writes down what it saw."""

    def __init__(self) -> None:
        self.balance_saw: list[tuple[int, int | None]] = []  # (balance E, position E in cache)
        self.position_saw: list[tuple[int, int | None]] = []  # (position E, balance E in cache)
        # (status, fills in the cache, fills announced so far) at each order update
        self.order_saw: list[tuple[str, int, int]] = []
        self.fills = 0

    @hookimpl
    def on_balance_update(self, ctx: BotContext, before: Balance | None, after: Balance) -> None:
        if after.asset == "USDT":
            position = ctx.cache.position("BTCUSDT")
            self.balance_saw.append(
                (after.event_time, position.event_time if position is not None else None)
            )

    @hookimpl
    def on_position_update(self, ctx: BotContext, before: Position | None, after: Position) -> None:
        balance = ctx.cache.balances.get("USDT")
        self.position_saw.append(
            (after.event_time, balance.event_time if balance is not None else None)
        )

    @hookimpl
    def on_order_update(self, ctx: BotContext, before: Order | None, after: Order) -> None:
        self.order_saw.append((after.status, ctx.cache.fill_count, self.fills))

    @hookimpl
    def on_fill(self, ctx: BotContext, fill: Fill) -> None:
        self.fills += 1


async def test_every_entry_of_an_event_is_in_the_cache_before_its_first_hook(
    sim_exchange: SimExchange, sim_bot: SimBotFactory
) -> None:
    checker = CacheChecker()
    await sim_bot(plugins={"checker": checker})
    # Traded on the simulator itself: only the user-data stream tells the bot (no REST
    # acknowledgement reaches the cache before the stream's events).
    for qty in ("0.004", "0.002", "0.003"):
        await sim_exchange.place_order("BTCUSDT", "BUY", qty)
    await until(lambda: checker.fills == 3 and len(checker.position_saw) == 3)
    await until(lambda: len(checker.balance_saw) >= 3)

    # The ACCOUNT_UPDATE's position was in the cache when its balance was announced, and the
    # other way round: one event time on both sides.
    assert all(balance_e == position_e for balance_e, position_e in checker.balance_saw)
    assert all(position_e == balance_e for position_e, balance_e in checker.position_saw)
    # The trade of an ORDER_TRADE_UPDATE was in the cache when its FILLED order was announced:
    # one more fill in the cache than announced so far (its own, whose on_fill comes next).
    filled = [
        (cached, announced) for status, cached, announced in checker.order_saw if status == "FILLED"
    ]
    assert filled == [(1, 0), (2, 1), (3, 2)], checker.order_saw
