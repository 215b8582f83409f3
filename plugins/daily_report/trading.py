"""Trading figures of a day: per-symbol PnL, fees, trades and volume, orders by status."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from plugins.journal import FillRow, OrderRow

from .model import OrderFigure, SymbolFigure, TradingTotals

ZERO = Decimal(0)


def symbol_figures(fills: Iterable[FillRow]) -> tuple[SymbolFigure, ...]:
    """One figure per symbol traded, sorted by symbol."""
    tally = SymbolTally()
    for fill in fills:
        tally.add(fill)
    return tally.figures()


class _Symbol:
    """Running figures of one symbol."""

    __slots__ = ("buys", "fees", "maker", "notional", "realized_pnl", "trades", "volume")

    def __init__(self) -> None:
        self.trades = self.buys = self.maker = 0
        self.volume = self.notional = self.realized_pnl = ZERO
        self.fees: dict[str, Decimal] = {}


class SymbolTally:
    """Per-symbol trading figures, one fill at a time (a day is never held in memory)."""

    def __init__(self) -> None:
        self._by_symbol: dict[str, _Symbol] = {}

    def add(self, fill: FillRow) -> None:
        """Count one fill."""
        s = self._by_symbol.get(fill.symbol)
        if s is None:
            s = self._by_symbol[fill.symbol] = _Symbol()
        s.trades += 1
        s.buys += fill.side == "BUY"
        s.maker += fill.is_maker
        s.volume += fill.qty
        s.notional += fill.price * fill.qty
        s.realized_pnl += fill.realized_pnl
        s.fees[fill.fee_asset] = s.fees.get(fill.fee_asset, ZERO) + fill.fee

    def figures(self) -> tuple[SymbolFigure, ...]:
        """One figure per symbol, sorted by symbol."""
        return tuple(
            SymbolFigure(
                symbol=symbol,
                trades=s.trades,
                buys=s.buys,
                sells=s.trades - s.buys,
                maker=s.maker,
                taker=s.trades - s.maker,
                volume=s.volume,
                notional=s.notional,
                realized_pnl=s.realized_pnl,
                fees=dict(sorted(s.fees.items())),
            )
            for symbol, s in sorted(self._by_symbol.items())
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
    tally = OrderTally()
    for row in orders:
        tally.add(row)
    return tally.figure()


class OrderTally:
    """The last status of each order, one update at a time (oldest first: the last wins)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], str] = {}

    def add(self, row: OrderRow) -> None:
        """Count one order update."""
        self._last[(row.symbol, row.order_id)] = row.status

    def figure(self) -> OrderFigure:
        """Orders by the last status they reached."""
        by_status: dict[str, int] = defaultdict(int)
        for status in self._last.values():
            by_status[status] += 1
        return OrderFigure(orders=len(self._last), by_status=dict(sorted(by_status.items())))
