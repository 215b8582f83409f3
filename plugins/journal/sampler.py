"""Equity at the marks the bot last saw: the wallet of one asset plus unrealized PnL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from framework.types import Balance, Position

Q8 = Decimal("0.00000001")


def unrealized_pnl(
    amount: Decimal, entry_price: Decimal, mark: Decimal | None, fallback: Decimal
) -> Decimal:
    """``amount * (mark - entry)`` to 8 decimals; ``fallback`` (the exchange's) without a mark."""
    if not amount:
        return Decimal(0)
    if mark is None:
        return fallback
    return (amount * (mark - entry_price)).quantize(Q8)


def equity(
    asset: str,
    balances: Iterable[Balance],
    positions: Iterable[Position],
    marks: Mapping[str, Decimal],
) -> tuple[Decimal, Decimal] | None:
    """``(wallet, unrealized)`` of ``asset``, or ``None`` while its balance is unknown."""
    wallet = next((b.wallet_balance for b in balances if b.asset == asset), None)
    if wallet is None:
        return None
    unrealized = sum(
        (
            unrealized_pnl(p.amount, p.entry_price, marks.get(p.symbol), p.unrealized_pnl)
            for p in positions
        ),
        Decimal(0),
    )
    return wallet, unrealized
