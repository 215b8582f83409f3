"""Notional and leverage brackets of the simulated contracts (``GET /fapi/v1/leverageBracket``).

One table for every contract, the one ``wire.max_notional`` already answers with: up to 50,000
USDT of notional at 125x, 250,000 at 100x, 1,000,000 at 50x, 5,000,000 at 20x. The first
bracket's maintenance margin ratio is the contract's own (what the engine charges); ``cum`` is
Binance's maintenance amount, ``cum[n] = cum[n-1] + floor[n] * (mmr[n] - mmr[n-1])``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .symbols import SymbolSpec

# (initial leverage, notional cap, maintenance margin ratio over the first bracket's)
_TABLE: tuple[tuple[int, int, Decimal], ...] = (
    (125, 50_000, Decimal(0)),
    (100, 250_000, Decimal("0.001")),
    (50, 1_000_000, Decimal("0.006")),
    (20, 5_000_000, Decimal("0.021")),
)


def max_notional(leverage: int) -> Decimal:
    """The largest position notional allowed at ``leverage``: the cap of the last bracket whose
    initial leverage is at least ``leverage`` (beyond it an opening order is refused, -2027)."""
    allowed = [cap for top, cap, _ in _TABLE if top >= leverage]
    return Decimal(allowed[-1] if allowed else 0)


def leverage_brackets(spec: SymbolSpec) -> dict[str, Any]:
    """One symbol's entry of ``GET /fapi/v1/leverageBracket`` (numbers, as Binance sends)."""
    brackets: list[dict[str, Any]] = []
    floor = 0
    cum = Decimal(0)
    previous_mmr = Decimal(0)
    for index, (leverage, cap, extra) in enumerate(_TABLE, start=1):
        mmr = spec.maint_margin_rate + extra
        cum += floor * (mmr - previous_mmr) if index > 1 else Decimal(0)
        brackets.append(
            {
                "bracket": index,
                "initialLeverage": leverage,
                "notionalCap": cap,
                "notionalFloor": floor,
                "maintMarginRatio": float(mmr),
                "cum": float(cum),
            }
        )
        floor, previous_mmr = cap, mmr
    return {"symbol": spec.symbol, "brackets": brackets}
