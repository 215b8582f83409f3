"""A trader's figures of a period: every trade, PnL per strategy, win rate, profit factor,
drawdown. Fed one fill at a time (``PerformanceTally.add``), so the journal can be streamed.

Definitions (also in docs/reporting.md):

* a *closing fill* is a fill with non-zero realized PnL (the exchange's ``rp``); it is a *win*
  when that PnL is positive, a *loss* when negative. Win rate = wins / closing fills.
* profit factor = sum of winning PnL / |sum of losing PnL| (``None`` without a loss).
* max drawdown = the largest fall of equity from a running peak to a later sample, over the
  period's equity samples; its share is that fall over the peak.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from plugins.journal import FillRow

from .model import (
    DrawdownFigure,
    EquityPoint,
    PerformanceFigure,
    PositionFigure,
    StrategyFigure,
    TradeFigure,
)

ZERO = Decimal(0)
MAX_TRADES = 1000
"""Trades listed in a report at most (the newest); ``tradeloop trades --csv`` has every one."""
NO_STRATEGY = "-"
BASE36 = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")


def _base36(text: str) -> bool:
    return bool(text) and all(c in BASE36 for c in text)


def strategy_of(client_order_id: str) -> str:
    """The strategy instance of a client order id tradeloop made: ``<prefix>-<owner>-<run>-<n>``
    (``run`` and ``n`` in base 36), or ``<prefix>-<owner>-<n>`` of earlier versions; ``bot`` for
    orders placed outside a strategy. ``-`` for any other id (an order placed by hand, or a
    trade recovered from REST without its client order id). An owner id too long for the
    exchange's 36 characters appears shortened, as the connector wrote it."""
    parts = client_order_id.split("-")
    if len(parts) == 4 and parts[0].isalnum() and parts[1]:
        if _base36(parts[2]) and _base36(parts[3]):
            return parts[1]
    if len(parts) == 3 and parts[0].isalnum() and parts[1] and parts[2].isdigit():
        return parts[1]
    return NO_STRATEGY


class _Strategy:
    __slots__ = (
        "fees",
        "gross_loss",
        "gross_profit",
        "losses",
        "realized",
        "symbols",
        "trades",
        "wins",
    )

    def __init__(self) -> None:
        self.trades = self.wins = self.losses = 0
        self.realized = self.gross_profit = self.gross_loss = ZERO
        self.fees: dict[str, Decimal] = {}
        self.symbols: set[str] = set()


class PerformanceTally:
    """Trades, per-strategy PnL and win/loss counts, one fill at a time (oldest first)."""

    def __init__(self, max_trades: int = MAX_TRADES) -> None:
        self.max_trades = max_trades
        self._trades: list[TradeFigure] = []
        self._count = 0
        self._by_strategy: dict[str, _Strategy] = {}
        self._strategies_of_symbol: dict[str, set[str]] = {}

    def add(self, fill: FillRow) -> None:
        """Count one fill."""
        strategy = strategy_of(fill.client_order_id)
        self._count += 1
        self._trades.append(
            TradeFigure(
                at=fill.event_time,
                strategy=strategy,
                symbol=fill.symbol,
                side=fill.side,
                qty=fill.qty,
                price=fill.price,
                fee=fill.fee,
                fee_asset=fill.fee_asset,
                realized_pnl=fill.realized_pnl,
                maker=fill.is_maker,
            )
        )
        if len(self._trades) > 2 * self.max_trades:  # keep the newest, in bounded memory
            del self._trades[: len(self._trades) - self.max_trades]
        s = self._by_strategy.get(strategy)
        if s is None:
            s = self._by_strategy[strategy] = _Strategy()
        s.trades += 1
        s.symbols.add(fill.symbol)
        s.realized += fill.realized_pnl
        s.fees[fill.fee_asset] = s.fees.get(fill.fee_asset, ZERO) + fill.fee
        if fill.realized_pnl > 0:
            s.wins += 1
            s.gross_profit += fill.realized_pnl
        elif fill.realized_pnl < 0:
            s.losses += 1
            s.gross_loss -= fill.realized_pnl
        self._strategies_of_symbol.setdefault(fill.symbol, set()).add(strategy)

    def trades(self) -> tuple[tuple[TradeFigure, ...], int]:
        """The newest ``max_trades`` trades (oldest first) and how many were left out."""
        kept = self._trades[-self.max_trades :] if self.max_trades else []
        return tuple(kept), self._count - len(kept)

    def strategies(self, positions: Sequence[PositionFigure]) -> tuple[StrategyFigure, ...]:
        """One figure per strategy instance, sorted by name.

        A one-way account nets every strategy's orders on a symbol into one position, so an
        open position's unrealized PnL goes to a strategy only when it was the one strategy
        that traded that symbol in the period. A strategy with an open position on a symbol
        another strategy also traded gets ``None`` (the figure stays with the symbol).
        """
        held: dict[str, Decimal] = {}
        for p in positions:
            held[p.symbol] = held.get(p.symbol, ZERO) + p.unrealized_pnl
        unrealized: dict[str, Decimal | None] = {}
        for name, s in self._by_strategy.items():
            total: Decimal | None = ZERO
            for symbol in s.symbols:
                if symbol not in held or total is None:
                    continue
                shared = len(self._strategies_of_symbol[symbol]) > 1
                total = None if shared else total + held[symbol]
            unrealized[name] = total
        return tuple(
            StrategyFigure(
                strategy=name,
                symbols=tuple(sorted(s.symbols)),
                trades=s.trades,
                realized_pnl=s.realized,
                unrealized_pnl=unrealized[name],
                fees=dict(sorted(s.fees.items())),
                closing_fills=s.wins + s.losses,
                wins=s.wins,
                losses=s.losses,
                win_rate=_rate(s.wins, s.losses),
                profit_factor=_factor(s.gross_profit, s.gross_loss),
            )
            for name, s in sorted(self._by_strategy.items())
        )

    def performance(self, equity: Sequence[EquityPoint]) -> PerformanceFigure:
        """Every strategy together, and the drawdown of ``equity``."""
        wins = sum(s.wins for s in self._by_strategy.values())
        losses = sum(s.losses for s in self._by_strategy.values())
        profit = sum((s.gross_profit for s in self._by_strategy.values()), ZERO)
        loss = sum((s.gross_loss for s in self._by_strategy.values()), ZERO)
        return PerformanceFigure(
            closing_fills=wins + losses,
            wins=wins,
            losses=losses,
            win_rate=_rate(wins, losses),
            gross_profit=profit,
            gross_loss=loss,
            profit_factor=_factor(profit, loss),
            drawdown=max_drawdown(equity),
        )


def _rate(wins: int, losses: int) -> float | None:
    return wins / (wins + losses) if wins + losses else None


def _factor(profit: Decimal, loss: Decimal) -> Decimal | None:
    return (profit / loss).quantize(Decimal("0.01")) if loss else None


def max_drawdown(points: Iterable[EquityPoint]) -> DrawdownFigure:
    """The largest peak-to-later-trough fall of equity (zero when equity never fell)."""
    peak: EquityPoint | None = None
    best = DrawdownFigure(amount=ZERO, share=0.0, peak_at=None, trough_at=None)
    for p in points:
        if peak is None or p.equity > peak.equity:
            peak = p
            continue
        fall = peak.equity - p.equity
        if fall > best.amount:
            share = float(fall / peak.equity) if peak.equity > 0 else 0.0
            best = DrawdownFigure(amount=fall, share=share, peak_at=peak.ts, trough_at=p.ts)
    return best


def unrealized_by_symbol(positions: Sequence[PositionFigure]) -> Mapping[str, Decimal]:
    """Unrealized PnL of the open positions, per symbol (both sides in hedge mode summed)."""
    out: dict[str, Decimal] = {}
    for p in positions:
        out[p.symbol] = out.get(p.symbol, ZERO) + p.unrealized_pnl
    return out
