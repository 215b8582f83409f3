"""Flatten the account: cancel every open order, close every position with a MARKET order that
can only reduce it (reduce-only in one-way mode; in hedge mode the side's closing order, with
its ``positionSide`` and without ``reduceOnly``, which Binance refuses there).

The one core operation behind the kill switch, ``tradeloop flatten`` and a remote ``flatten``.
It works from the exchange's own view (a REST snapshot, the source of truth), not the cache,
and goes through the exchange connector (``ctx.exchange``), so it is not subject to strategy
holds or strategy risk limits. It never raises for one order or position that fails: every
failure is listed in the result with its error text (secrets masked), and the rest goes on.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from loguru import logger

from framework.log_guard import redact
from framework.redact import Redactor
from framework.types import AccountSnapshot, Order, OrderRequest, Position

if TYPE_CHECKING:
    from framework.context import BotContext

FLATTEN_OWNER = "flatten"
"""The owner put into the client order ids of the closing orders (``owner_of`` finds it)."""

FlattenStep = Literal["snapshot", "cancel", "close"]

_locks: weakref.WeakKeyDictionary[BotContext, asyncio.Lock] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class ClosedPosition:
    """A position and the MARKET order sent to close it."""

    position: Position
    order: Order


@dataclass(frozen=True, slots=True)
class FlattenFailure:
    """One step that failed: what it was about and the error text (secrets masked)."""

    step: FlattenStep
    symbol: str
    target: str
    """The client order id (``cancel``), the position side (``close``) or ``""``."""
    error: str


@dataclass(frozen=True, slots=True)
class FlattenResult:
    """What ``flatten_account`` did: orders cancelled, positions closed, steps that failed."""

    reason: str
    cancelled: tuple[Order, ...]
    closed: tuple[ClosedPosition, ...]
    failed: tuple[FlattenFailure, ...]

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    @property
    def nothing_to_do(self) -> bool:
        """True when the account had no open order and no position."""
        return not (self.cancelled or self.closed or self.failed)

    def lines(self) -> list[str]:
        """One human line per action, for the CLI, logs and remote replies."""
        out: list[str] = []
        for order in self.cancelled:
            out.append(
                f"cancelled {order.symbol} {order.side} {order.type} {order.orig_qty:f}"
                f" @ {order.price:f} ({order.client_order_id})"
            )
        for closed in self.closed:
            order = closed.order
            how = (
                "reduce-only"
                if closed.position.side == "BOTH"
                else f"closing {order.position_side}"
            )
            out.append(
                f"closed {closed.position.symbol} {closed.position.side} "
                f"{closed.position.amount:f}: {order.side} {order.orig_qty:f} MARKET {how} "
                f"{order.status} ({order.client_order_id})"
            )
        for failure in self.failed:
            what = f" {failure.target}" if failure.target else ""
            where = f" {failure.symbol}" if failure.symbol else ""
            out.append(f"FAILED {failure.step}{where}{what}: {failure.error}")
        if not out:
            out.append("nothing to do: no open order, no position")
        return out

    def summary(self) -> str:
        """One line: counts of cancelled, closed and failed."""
        return (
            f"{len(self.cancelled)} orders cancelled, {len(self.closed)} positions closed, "
            f"{len(self.failed)} failed"
        )


def _error_text(ctx: BotContext, exc: BaseException) -> str:
    """``exc`` as one line with every secret the bot knows masked."""
    exchange = ctx.settings.exchange
    text = redact(f"{type(exc).__name__}: {exc}")
    return Redactor((exchange.api_key, exchange.api_secret))(text)


def closing_request(position: Position) -> OrderRequest | None:
    """The MARKET order that closes ``position`` (``None`` if flat): reduce-only for a one-way
    (``BOTH``) position; for a hedge-mode one, a SELL of the ``LONG`` side or a BUY of the
    ``SHORT`` side with that ``position_side`` (reduce-only by nature; Binance refuses the
    ``reduceOnly`` parameter in hedge mode)."""
    if not position.amount:
        return None
    if position.side == "BOTH":
        return OrderRequest(
            symbol=position.symbol,
            side="SELL" if position.amount > 0 else "BUY",
            type="MARKET",
            quantity=abs(position.amount),
            reduce_only=True,
        )
    return OrderRequest(
        symbol=position.symbol,
        side="SELL" if position.side == "LONG" else "BUY",
        type="MARKET",
        quantity=abs(position.amount),
        position_side=position.side,
    )


async def flatten_account(
    ctx: BotContext, *, reason: str, close_positions: bool = True
) -> FlattenResult:
    """Cancel every open order of the account, then close every position (a MARKET order that
    can only reduce it; hedge-mode positions by their side).

    Reads the open orders from a REST snapshot; after the cancels it reads the positions again
    (a fill may have come in meanwhile). If a snapshot cannot be read, the cache's view stands
    in and the failure is listed. ``close_positions=False`` only cancels. Calls for one bot
    run one at a time.
    """
    lock = _locks.setdefault(ctx, asyncio.Lock())
    async with lock:
        result = await _flatten(ctx, reason, close_positions=close_positions)
    log = logger.bind(log_key="flatten")
    if result.ok:
        log.warning("account flattened ({}): {}", reason, result.summary())
    else:
        log.error("account flatten incomplete ({}): {}", reason, result.summary())
    for line in result.lines():
        log.info("flatten: {}", line)
    return result


async def _flatten(ctx: BotContext, reason: str, *, close_positions: bool) -> FlattenResult:
    failed: list[FlattenFailure] = []
    exchange = ctx.exchange
    first = await _snapshot(ctx, failed)
    orders = first.open_orders if first is not None else tuple(ctx.cache.open_orders.values())
    cancelled: list[Order] = []
    for order in orders:
        if not order.is_open:
            continue
        try:
            cancelled.append(await exchange.cancel_order(order.symbol, order.client_order_id))
        except Exception as exc:  # noqa: BLE001 - listed; the other orders still go
            failed.append(
                FlattenFailure("cancel", order.symbol, order.client_order_id, _error_text(ctx, exc))
            )
    if not close_positions:
        return FlattenResult(
            reason=reason, cancelled=tuple(cancelled), closed=(), failed=tuple(failed)
        )
    second = await _snapshot(ctx, failed) if cancelled else first
    if second is not None:
        positions: tuple[Position, ...] = second.positions
    else:
        positions = tuple(ctx.cache.positions.values())
    closed: list[ClosedPosition] = []
    for position in positions:
        if not position.amount:
            continue
        request = closing_request(position)
        if request is None:
            continue
        try:
            order = await exchange.place_order(request, owner=FLATTEN_OWNER)
        except Exception as exc:  # noqa: BLE001 - listed; the other positions still go
            failed.append(
                FlattenFailure("close", position.symbol, position.side, _error_text(ctx, exc))
            )
            continue
        closed.append(ClosedPosition(position, order))
    return FlattenResult(
        reason=reason, cancelled=tuple(cancelled), closed=tuple(closed), failed=tuple(failed)
    )


async def _snapshot(ctx: BotContext, failed: list[FlattenFailure]) -> AccountSnapshot | None:
    try:
        return await ctx.exchange.fetch_account_snapshot()
    except Exception as exc:  # noqa: BLE001 - the cache stands in; listed
        failed.append(FlattenFailure("snapshot", "", "", _error_text(ctx, exc)))
        return None


__all__ = [
    "FLATTEN_OWNER",
    "ClosedPosition",
    "FlattenFailure",
    "FlattenResult",
    "closing_request",
    "flatten_account",
]
