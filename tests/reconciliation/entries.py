"""Small builders of cache/snapshot entries for the rule tests."""

from __future__ import annotations

from decimal import Decimal

from framework.types import AccountSnapshot, Balance, Order, Position

T = 1_700_000_000_000  # the snapshot time of the rule tests
BEFORE = T - 1_000
AFTER = T + 5


def bal(asset: str, wallet: str, t: int) -> Balance:
    w = Decimal(wallet)
    return Balance(asset=asset, wallet_balance=w, cross_wallet_balance=w, event_time=t)


def pos(symbol: str, amount: str, entry: str, t: int) -> Position:
    return Position(
        symbol=symbol,
        side="BOTH",
        amount=Decimal(amount),
        entry_price=Decimal(entry),
        unrealized_pnl=Decimal(0),
        event_time=t,
    )


def order(
    oid: int,
    t: int,
    status: str = "NEW",
    executed: str = "0",
    *,
    symbol: str = "BTCUSDT",
    qty: str = "1",
    price: str = "100",
) -> Order:
    return Order(
        symbol=symbol,
        order_id=oid,
        client_order_id=f"tl-s-{oid}",
        side="BUY",
        type="LIMIT",
        status=status,
        price=Decimal(price),
        orig_qty=Decimal(qty),
        executed_qty=Decimal(executed),
        event_time=t,
    )


def snapshot(
    balances: tuple[Balance, ...] = (),
    positions: tuple[Position, ...] = (),
    orders: tuple[Order, ...] = (),
    t: int = T,
) -> AccountSnapshot:
    return AccountSnapshot(
        balances=balances, positions=positions, open_orders=orders, snapshot_time=t
    )
