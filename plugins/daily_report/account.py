"""Account figures of a day: balances at its start and end, open positions, equity."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from plugins.journal import BalanceRow, PositionRow, SampleRow, unrealized_pnl

from .model import BalanceFigure, EquityFigure, EquityPoint, PositionFigure


def balance_figures(
    before_start: Iterable[BalanceRow],
    before_end: Iterable[BalanceRow],
    during: Iterable[BalanceRow],
) -> tuple[BalanceFigure, ...]:
    """Wallet balance per asset at the day's start and end.

    The start is the last row before the day; an asset the journal first saw during the day
    starts at its first row of the day (``start_at`` tells when).
    """
    start = {b.asset: b for b in before_start}
    for row in during:  # oldest first
        start.setdefault(row.asset, row)
    end = {b.asset: b for b in before_end}
    out = []
    for asset in sorted(set(start) | set(end)):
        s, e = start.get(asset), end.get(asset)
        first = s.wallet_balance if s else None
        last = e.wallet_balance if e else None
        out.append(
            BalanceFigure(
                asset=asset,
                start=first,
                end=last,
                change=last - first if first is not None and last is not None else None,
                start_at=s.event_time if s else None,
            )
        )
    return tuple(out)


def position_figures(
    positions: Iterable[PositionRow], marks: Mapping[str, Decimal]
) -> tuple[PositionFigure, ...]:
    """Positions open at the end of the day, unrealized PnL at the last marks of the day."""
    out = []
    for row in sorted(positions, key=lambda p: (p.symbol, p.side)):
        if not row.amount:
            continue
        mark = marks.get(row.symbol)
        out.append(
            PositionFigure(
                symbol=row.symbol,
                side=row.side,
                amount=row.amount,
                entry_price=row.entry_price,
                mark=mark,
                unrealized_pnl=unrealized_pnl(
                    row.amount, row.entry_price, mark, row.unrealized_pnl
                ),
            )
        )
    return tuple(out)


def last_marks(samples: Sequence[SampleRow]) -> dict[str, Decimal]:
    """The marks of the last sample (every symbol the bot had a price for)."""
    marks: dict[str, Decimal] = {}
    for sample in samples:
        marks.update(sample.marks)
    return marks


def equity_figure(asset: str, samples: Sequence[SampleRow]) -> EquityFigure:
    """Equity points of the day, with first, last, lowest and highest."""
    points = tuple(EquityPoint(s.ts, s.equity) for s in samples if s.asset == asset)
    values = [p.equity for p in points]
    return EquityFigure(
        asset=asset,
        start=values[0] if values else None,
        end=values[-1] if values else None,
        low=min(values) if values else None,
        high=max(values) if values else None,
        points=points,
    )
