"""The daily report's figures, as typed structs (the JSON file is this, encoded).

Money is ``Decimal`` (a string in JSON); times are epoch ms.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class BalanceFigure(msgspec.Struct, frozen=True, kw_only=True):
    """One asset's wallet balance at the start and end of the day."""

    asset: str
    start: Decimal | None
    end: Decimal | None
    change: Decimal | None
    start_at: int | None
    """Event time of the figure used as the start; later than the day's start when the
    journal first saw the asset during the day."""


class SymbolFigure(msgspec.Struct, frozen=True, kw_only=True):
    """Trading of one symbol over the day, from its fills."""

    symbol: str
    trades: int
    buys: int
    sells: int
    maker: int
    taker: int
    volume: Decimal
    """Base quantity traded."""
    notional: Decimal
    """Sum of price x quantity (quote asset)."""
    realized_pnl: Decimal
    fees: dict[str, Decimal]
    """Fees paid, by fee asset."""
    unrealized_pnl: Decimal = Decimal(0)
    """Of the symbol's positions open at the end of the period."""


class TradeFigure(msgspec.Struct, frozen=True, kw_only=True):
    """One fill, as a trader reads it."""

    at: int
    strategy: str
    """The strategy instance from the client order id; ``-`` when not one of tradeloop's."""
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    realized_pnl: Decimal
    maker: bool


class StrategyFigure(msgspec.Struct, frozen=True, kw_only=True):
    """The trading of one strategy instance over the period."""

    strategy: str
    symbols: tuple[str, ...]
    trades: int
    realized_pnl: Decimal
    unrealized_pnl: Decimal | None
    """``None`` when its symbols' positions were shared with another strategy."""
    fees: dict[str, Decimal]
    closing_fills: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: Decimal | None


class DrawdownFigure(msgspec.Struct, frozen=True, kw_only=True):
    """The largest fall of equity from a peak to a later sample."""

    amount: Decimal
    share: float
    """``amount`` over the peak's equity."""
    peak_at: int | None
    trough_at: int | None


class PerformanceFigure(msgspec.Struct, frozen=True, kw_only=True):
    """Win rate, profit factor and drawdown over every strategy (defined in docs/reporting.md)."""

    closing_fills: int
    wins: int
    losses: int
    win_rate: float | None
    gross_profit: Decimal
    gross_loss: Decimal
    profit_factor: Decimal | None
    drawdown: DrawdownFigure


class TradingTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Every symbol together."""

    trades: int
    notional: Decimal
    realized_pnl: Decimal
    fees: dict[str, Decimal]
    net_pnl: Decimal
    """Realized PnL minus the fees paid in the equity asset."""


class OrderFigure(msgspec.Struct, frozen=True, kw_only=True):
    """Orders the journal saw change during the day, by their last status in the day."""

    orders: int
    by_status: dict[str, int]


class PositionFigure(msgspec.Struct, frozen=True, kw_only=True):
    """A position open at the end of the day."""

    symbol: str
    side: str
    amount: Decimal
    entry_price: Decimal
    mark: Decimal | None
    unrealized_pnl: Decimal


class EquityPoint(msgspec.Struct, frozen=True, array_like=True):
    """One equity sample: (time, equity)."""

    ts: int
    equity: Decimal


class EquityFigure(msgspec.Struct, frozen=True, kw_only=True):
    """Equity (wallet + unrealized PnL) sampled over the day."""

    asset: str
    start: Decimal | None
    end: Decimal | None
    low: Decimal | None
    high: Decimal | None
    points: tuple[EquityPoint, ...]


class MismatchFigure(msgspec.Struct, frozen=True, kw_only=True):
    """One drift: what the cache had, what the exchange had, whether it was repaired."""

    kind: str
    key: str
    cache_value: str | None
    exchange_value: str | None
    repaired: bool


class DriftIncident(msgspec.Struct, frozen=True, kw_only=True):
    """A reconcile that found drift or failed."""

    at: int
    status: str
    reason: str
    error: str
    mismatches: tuple[MismatchFigure, ...]


class DriftFigure(msgspec.Struct, frozen=True, kw_only=True):
    """Reconciliation over the day."""

    reconciles: int
    by_status: dict[str, int]
    mismatches: int
    repaired: int
    repaired_by_kind: dict[str, int]
    in_flight_skipped: int
    incidents: tuple[DriftIncident, ...]


class StreamPeriod(msgspec.Struct, frozen=True, kw_only=True):
    """A time a stream was disconnected or stale, until it was connected or resynced."""

    stream: str
    state: str
    start: int
    end: int
    reason: str


class StreamFigure(msgspec.Struct, frozen=True, kw_only=True):
    """One stream over the day."""

    stream: str
    connects: int
    disconnects: int
    stale: int
    resyncs: int
    down_ms: int
    periods: tuple[StreamPeriod, ...]


class RunFigure(msgspec.Struct, frozen=True, kw_only=True):
    """One run of the bot that was up during the day."""

    run_id: str
    started_at: int
    stopped_at: int | None
    up_from: int
    up_to: int
    stop_reason: str
    clean_stop: bool
    running: bool = False
    """The run that wrote the report (not stopped yet)."""


class UptimeFigure(msgspec.Struct, frozen=True, kw_only=True):
    """How long the bot was up during the day."""

    up_ms: int
    day_ms: int
    share: float
    runs_started: int
    runs: tuple[RunFigure, ...]


class PluginErrorFigure(msgspec.Struct, frozen=True, kw_only=True):
    """Failures of one plugin in one hook."""

    plugin: str
    hook: str
    count: int
    disabled: bool
    last_error: str
    last_at: int


class LogFigure(msgspec.Struct, frozen=True, kw_only=True):
    """smart_logging counters accumulated during the day (every run summed)."""

    sampled: bool
    emitted: int
    suppressed: int
    aggregated_lines: int
    sink_errors: int
    top_suppressed: dict[str, int]


class KillSwitchFigure(msgspec.Struct, frozen=True, kw_only=True):
    """One trip of the kill switch: the limit, the value against its threshold, what was done,
    and when and by whom it was cleared (``None`` while it holds)."""

    at: int
    limit: str
    value: Decimal
    threshold: Decimal
    asset: str
    actions: tuple[str, ...]
    cleared_at: int | None = None
    cleared_by: str = ""


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the report says about one UTC day, or a period of whole UTC days."""

    day: str
    """The file name: ``YYYY-MM-DD`` for a day, ``YYYY-MM-DD_YYYY-MM-DD`` for a period."""
    start: int
    end: int
    generated_at: int
    equity_asset: str
    balances: tuple[BalanceFigure, ...]
    unexplained_change: Decimal | None
    """Wallet change of the equity asset minus net PnL: non-zero means transfers, funding or
    fills the journal missed."""
    symbols: tuple[SymbolFigure, ...]
    strategies: tuple[StrategyFigure, ...]
    performance: PerformanceFigure
    trades: tuple[TradeFigure, ...]
    """The period's fills, oldest first (the newest ``MAX_TRADES`` when there were more)."""
    trades_omitted: int
    """Older fills left out of ``trades``."""
    totals: TradingTotals
    orders: OrderFigure
    positions: tuple[PositionFigure, ...]
    equity: EquityFigure
    drift: DriftFigure
    streams: tuple[StreamFigure, ...]
    uptime: UptimeFigure
    plugin_errors: tuple[PluginErrorFigure, ...]
    log: LogFigure
    kill_switch: tuple[KillSwitchFigure, ...] = ()
    """The kill switch's trips in the period, oldest first."""
