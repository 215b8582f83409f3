"""restarter: a strategy for the restart proof. Each step places one order intent, numbered
``next`` in its saved state; the intent's number is written into the order's price (the last
three digits in ticks), so the exchange's own order list shows every order an intent made.

Intent ``n``: ``n % 3 == 0`` a BUY LIMIT above the ask (fills at once), ``1`` a SELL LIMIT
below the bid (fills at once), ``2`` a BUY LIMIT 1 % below the bid (rests). At most
``resting`` orders of its own stay open; older ones are cancelled.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Literal

import msgspec
from loguru import logger

from framework import (
    BotContext,
    IntervalJob,
    OrderRefused,
    OrderRequest,
    Strategy,
    TradeloopError,
    hookimpl,
)

INTENTS = 1000  # the price carries n in [0, 1000)


class RestarterParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    symbol: str = "BTCUSDT"
    quantity: Decimal = Decimal("0.002")
    every: float = 0.05
    resting: int = 3
    tick: Decimal = Decimal("0.1")


def _floor(value: Decimal, bucket: Decimal) -> Decimal:
    return (value / bucket).to_integral_value(rounding=ROUND_FLOOR) * bucket


def intent_price(n: int, reference: Decimal, tick: Decimal) -> Decimal:
    """A price near ``reference`` whose remainder modulo ``1000 * tick`` is ``n * tick``."""
    return _floor(reference, tick * INTENTS) + n * tick


def intent_of(price: Decimal, tick: Decimal) -> int:
    """The intent number a price carries."""
    return int((price % (tick * INTENTS)) / tick)


class Restarter(Strategy):
    """Places numbered intents, saves the next number after each, trims its resting orders."""

    Params = RestarterParams
    params: RestarterParams

    @hookimpl
    def register_jobs(self, ctx: BotContext) -> list[IntervalJob]:
        async def step() -> None:
            await self.step(ctx)

        return [IntervalJob(name="step", every=self.params.every, func=step)]

    async def step(self, ctx: BotContext) -> None:
        p = self.params
        if not ctx.has_exchange or ctx.trading_held or ctx.strategy_paused(self.strategy_id):
            return
        tick = ctx.last_ticks.get(p.symbol)
        n = int(self.state.get("next", 0))
        if tick is None or n >= INTENTS:
            return
        side: Literal["BUY", "SELL"]
        if n % 3 == 0:
            side, reference = "BUY", tick.ask * Decimal("1.005")
        elif n % 3 == 1:
            side, reference = "SELL", tick.bid * Decimal("0.995")
        else:
            side, reference = "BUY", tick.bid * Decimal("0.99")
        request = OrderRequest(
            symbol=p.symbol,
            side=side,
            type="LIMIT",
            quantity=p.quantity,
            price=intent_price(n, reference, p.tick),
        )
        try:
            await self.orders(ctx).place(request, intent=f"i{n}")
        except OrderRefused:
            return
        except TradeloopError as exc:  # placed again (the same intent) at the next step
            logger.warning("intent {} failed: {}", n, exc)
            return
        await self.save_state(ctx, {**self.state, "next": n + 1})
        mine = sorted(self.orders(ctx).open_orders(p.symbol), key=lambda o: o.order_id)
        for order in mine[: max(0, len(mine) - p.resting)]:
            try:
                await self.orders(ctx).cancel(order.symbol, order.client_order_id)
            except TradeloopError as exc:
                logger.info("cancel {} failed: {}", order.client_order_id, exc)
