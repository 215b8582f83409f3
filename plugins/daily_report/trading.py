"""Trading figures of a day: per-symbol PnL, fees, trades and volume, orders by status."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from plugins.journal import FillRow, OrderRow

from .model import OrderFigure, SymbolFigure, TradingTotals

ZERO = Decimal(0)


def symbol_figures(fills: Iterable[FillRow]) -> tuple[SymbolFigure, ...]:
    """One figure per symbol traded, sorted by symbol."""
    by_symbol: dict[str, list[FillRow]] = defaultdict(list)
    for fill in fills:
        by_symbol[fill.symbol].append(fill)
    return tuple(_symbol(symbol, rows) for symbol, rows in sorted(by_symbol.items()))


def _symbol(symbol: str, rows: Sequence[FillRow]) -> SymbolFigure:
    fees: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        fees[r.fee_asset] += r.fee
    return SymbolFigure(
        symbol=symbol,
        trades=len(rows),
        buys=sum(1 for r in rows if r.side == "BUY"),
        sells=sum(1 for r in rows if r.side == "SELL"),
        maker=sum(1 for r in rows if r.is_maker),
        taker=sum(1 for r in rows if not r.is_maker),
        volume=sum((r.qty for r in rows), ZERO),
        notional=sum((r.price * r.qty for r in rows), ZERO),
        realized_pnl=sum((r.realized_pnl for r in rows), ZERO),
        fees=dict(sorted(fees.items())),
    )


def totals(symbols: Iterable[SymbolFigure], equity_asset: str) -> TradingTotals:
    """Every symbol together; net PnL is realized PnL minus fees paid in ``equity_asset``."""
    figures = list(symbols)
    fees: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for figure in figures:
        for asset, fee in figure.fees.items():
            fees[asset] += fee
    realized = sum((f.realized_pnl for f in figures), ZERO)
    return TradingTotals(
        trades=sum(f.trades for f in figures),
        notional=sum((f.notional for f in figures), ZERO),
        realized_pnl=realized,
        fees=dict(sorted(fees.items())),
        net_pnl=realized - fees.get(equity_asset, ZERO),
    )


def order_figure(orders: Iterable[OrderRow]) -> OrderFigure:
    """Distinct orders updated during the day, counted by the last status they reached."""
    last: dict[tuple[str, int], str] = {}
    for row in orders:  # oldest first: the last write wins
        last[(row.symbol, row.order_id)] = row.status
    by_status: dict[str, int] = defaultdict(int)
    for status in last.values():
        by_status[status] += 1
    return OrderFigure(orders=len(last), by_status=dict(sorted(by_status.items())))
