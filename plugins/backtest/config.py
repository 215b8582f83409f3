"""The ``plugins.backtest`` settings block."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from framework.setting_types import PositiveAmount, Rate


class BacktestSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How ``tradeloop backtest`` reads data and fills orders."""

    data_dir: str = ""
    """Folder of candle (and aggTrades) files in Binance's public-archive layout; empty:
    ``<runtime.data_dir>/market`` (``tradeloop download-data`` writes there; ``--data``
    overrides)."""
    interval: Literal["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"] = (
        "1m"
    )
    """Candle interval of the files the backtest reads (``BTCUSDT-1m-2026-01-01.csv``)."""
    results_dir: str = ""
    """Where each backtest writes its results folder; empty: ``<runtime.data_dir>/backtests``
    (``--out`` overrides)."""
    balance: PositiveAmount = Decimal("10000")
    """Starting USDT wallet balance."""
    leverage: Annotated[int, msgspec.Meta(ge=1, le=125)] = 20
    """Leverage of every symbol."""
    maker_fee: Rate = Decimal("0.0002")
    """Fee rate of a resting order's fill (0.0002 = 0.02 %)."""
    taker_fee: Rate = Decimal("0.0005")
    """Fee rate of an order that takes liquidity (market orders, crossing limits)."""
    slippage_bps: Annotated[float, msgspec.Meta(ge=0, le=1000)] = 0.0
    """Market orders fill this many basis points worse than the quote (rounded to the tick)."""
    latency_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 0
    """An order reaches the venue this long after it was sent (it matches against the prices
    of then); cancels too."""
    spread_ticks: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1
    """The quote's ask is the price plus this many ticks; the bid is the price."""
