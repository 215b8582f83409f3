"""What a backtest measured: equity samples while it runs, and the figures computed at the end."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .data import Gap, iso
from .trades import Tally, TradeLog

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
ZERO = Decimal(0)
DAYS_PER_YEAR = 365


@dataclass
class Recorder:
    """Samples equity every minute of the data's time (running peak and drawdown, exposure)
    and keeps hourly points for the charts and daily ones for the returns: memory grows with
    hours, never with ticks."""

    balance: Decimal
    symbols: list[str]
    next_minute: int = 0
    minutes: int = 0
    exposed_minutes: int = 0
    peak: Decimal = ZERO
    max_drawdown: Decimal = ZERO
    max_drawdown_pct: float = 0.0
    equity_points: list[tuple[int, str, str]] = field(default_factory=list)
    daily: list[tuple[int, Decimal]] = field(default_factory=list)
    prices: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    first_price: dict[str, Decimal] = field(default_factory=dict)
    last_price: dict[str, Decimal] = field(default_factory=dict)
    ticks: int = 0

    def __post_init__(self) -> None:
        self.peak = self.balance
        self.prices = {s: [] for s in self.symbols}

    def start(self, start_ms: int) -> None:
        """The first sample is at the start, with the starting balance."""
        self.next_minute = start_ms + MINUTE_MS
        self.equity_points.append((start_ms, str(self.balance), "0"))
        self.daily.append((start_ms, self.balance))

    def sample(self, now: int, equity: Decimal, exposed: bool) -> None:
        """One sample at a minute boundary ``now`` (ms)."""
        self.next_minute = now - now % MINUTE_MS + MINUTE_MS
        self.minutes += 1
        if exposed:
            self.exposed_minutes += 1
        if equity > self.peak:
            self.peak = equity
        drawdown = equity - self.peak
        if drawdown < self.max_drawdown:
            self.max_drawdown = drawdown
        if self.peak > 0:
            self.max_drawdown_pct = min(self.max_drawdown_pct, float(drawdown / self.peak) * 100)
        if now % HOUR_MS < MINUTE_MS:
            self.equity_points.append((now, str(equity), str(drawdown)))
            for symbol in self.symbols:
                price = self.last_price.get(symbol)
                if price is not None:
                    self.prices[symbol].append((now, str(price)))
        if now % DAY_MS < MINUTE_MS:
            self.daily.append((now, equity))


def _ratio(values: list[float], downside: bool) -> float | None:
    """Annualized Sharpe (or Sortino with ``downside``) of daily returns; ``None`` when it
    cannot be computed (fewer than two days, no variation)."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    if downside:
        below = [min(0.0, v) ** 2 for v in values]
        deviation = math.sqrt(sum(below) / len(values))
    else:
        deviation = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    if deviation == 0:
        return None
    return round(mean / deviation * math.sqrt(DAYS_PER_YEAR), 4)


def _pct(part: Decimal, whole: Decimal) -> float:
    return round(float(part / whole) * 100, 4) if whole else 0.0


def build_results(
    *,
    recorder: Recorder,
    trades: TradeLog,
    final_equity: Decimal,
    unrealized: dict[str, Decimal],
    gaps: list[Gap],
    start_ms: int,
    end_ms: int,
    settings: dict[str, Any],
    strategies: list[str],
    data: dict[str, Any],
) -> dict[str, Any]:
    """Every figure of the report, JSON-ready (money as strings, exact). ``trades`` is the
    trade log itself: it lists every trade from its file when the report is written."""
    balance = recorder.balance
    daily = [e for _, e in recorder.daily]
    if not daily or daily[-1] != final_equity or len(daily) == 1:
        daily = [*daily, final_equity]
    returns = [float((b - a) / a) for a, b in itertools.pairwise(daily) if a]
    by_strategy = {sid: trades.by_owner.get(sid, Tally()).figures() for sid in strategies}
    by_symbol: dict[str, Any] = {}
    for symbol in recorder.symbols:
        entry = trades.by_symbol.get(symbol, Tally()).figures()
        entry["unrealized_pnl"] = str(unrealized.get(symbol, ZERO))
        first, last = recorder.first_price.get(symbol), recorder.last_price.get(symbol)
        entry["buy_and_hold_pct"] = _pct(last - first, first) if first and last else None
        entry["first_price"] = str(first) if first is not None else None
        entry["last_price"] = str(last) if last is not None else None
        by_symbol[symbol] = entry
    holds = [v["buy_and_hold_pct"] for v in by_symbol.values() if v["buy_and_hold_pct"] is not None]
    hold_pct = round(sum(holds) / len(holds), 4) if holds else None
    pnl = final_equity - balance
    total = trades.total.figures()
    return {
        "period": {
            "from": iso(start_ms),
            "to": iso(end_ms),
            "days": round((end_ms - start_ms) / DAY_MS, 4),
        },
        "settings": settings,
        "data": data,
        "summary": {
            "starting_balance": str(balance),
            "final_equity": str(final_equity),
            "pnl": str(pnl),
            "return_pct": _pct(pnl, balance),
            "max_drawdown": str(recorder.max_drawdown),
            "max_drawdown_pct": round(recorder.max_drawdown_pct, 4),
            "sharpe": _ratio(returns, downside=False),
            "sortino": _ratio(returns, downside=True),
            "exposure_pct": round(recorder.exposed_minutes / recorder.minutes * 100, 2)
            if recorder.minutes
            else 0.0,
            "ticks": recorder.ticks,
            **total,
            "unrealized_pnl": str(sum(unrealized.values(), ZERO)),
            "buy_and_hold_pct": hold_pct,
            "buy_and_hold_pnl": str(
                (balance * Decimal(str(hold_pct)) / 100).quantize(Decimal("0.01"))
            )
            if hold_pct is not None
            else None,
        },
        "daily_returns_pct": [round(r * 100, 6) for r in returns],
        "by_strategy": by_strategy,
        "by_symbol": by_symbol,
        "gaps": [
            {
                "symbol": g.symbol,
                "from": iso(g.start_ms),
                "to": iso(g.end_ms),
                "minutes": (g.end_ms - g.start_ms) // MINUTE_MS,
            }
            for g in gaps
        ],
        "equity": [
            {"time": iso(t), "equity": e, "drawdown": d} for t, e, d in recorder.equity_points
        ],
        "prices": {
            s: [{"time": iso(t), "price": p} for t, p in pts] for s, pts in recorder.prices.items()
        },
        "trades": trades,
    }
