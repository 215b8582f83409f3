"""tradeloop's public surface: what plugins and strategies import.

Everything else under ``framework`` is the core's own business and may change.
"""

from framework.cache import AccountView
from framework.clock import Clock, ManualClock, SystemClock
from framework.commands import Command
from framework.context import CACHE_WRITER, BotContext
from framework.errors import (
    CacheWriteDenied,
    ExchangeFilterRejection,
    FilterRefused,
    OrderRefused,
    PluginLoadError,
    RiskLimitExceeded,
    SettingsError,
    ShuttingDown,
    StrategyPaused,
    TradeloopError,
    TradingHeld,
)
from framework.exchange import (
    ExchangeConnector,
    ExchangeEndpoint,
    FillHistory,
    FrameTap,
    StreamHealth,
    TradeHistory,
)
from framework.flatten import FlattenResult, flatten_account
from framework.hooks import Hooks
from framework.hookspecs import hookimpl
from framework.rules import FilterBreach, LeverageBracket, SymbolRules
from framework.settings import RiskLimits, Settings
from framework.state import Attribution, StateStore
from framework.strategy import Strategy, StrategyOrders
from framework.tasks import cancel_and_wait
from framework.types import (
    CANDLE_INTERVALS,
    AccountSnapshot,
    Alert,
    Balance,
    Candle,
    CommandRecord,
    DailyJob,
    DailyReport,
    DegradedStatus,
    ExchangeCheck,
    Fill,
    Freshness,
    IntervalJob,
    Job,
    KillSwitchResume,
    KillSwitchTrip,
    Mismatch,
    Order,
    OrderRequest,
    PluginError,
    Position,
    ReconcileResult,
    StreamState,
    StreamStatus,
    Tick,
    TradeCursors,
    UnreadableEntry,
)
from framework.watchdog import LoopLag

__all__ = [
    "CACHE_WRITER",
    "CANDLE_INTERVALS",
    "AccountSnapshot",
    "AccountView",
    "Alert",
    "Attribution",
    "Balance",
    "BotContext",
    "CacheWriteDenied",
    "Candle",
    "Clock",
    "Command",
    "CommandRecord",
    "DailyJob",
    "DailyReport",
    "DegradedStatus",
    "ExchangeCheck",
    "ExchangeConnector",
    "ExchangeEndpoint",
    "ExchangeFilterRejection",
    "Fill",
    "FillHistory",
    "FilterBreach",
    "FilterRefused",
    "FlattenResult",
    "FrameTap",
    "Freshness",
    "Hooks",
    "IntervalJob",
    "Job",
    "KillSwitchResume",
    "KillSwitchTrip",
    "LeverageBracket",
    "LoopLag",
    "ManualClock",
    "Mismatch",
    "Order",
    "OrderRefused",
    "OrderRequest",
    "PluginError",
    "PluginLoadError",
    "Position",
    "ReconcileResult",
    "RiskLimitExceeded",
    "RiskLimits",
    "Settings",
    "SettingsError",
    "ShuttingDown",
    "StateStore",
    "Strategy",
    "StrategyOrders",
    "StrategyPaused",
    "StreamHealth",
    "StreamState",
    "StreamStatus",
    "SymbolRules",
    "SystemClock",
    "Tick",
    "TradeCursors",
    "TradeHistory",
    "TradeloopError",
    "TradingHeld",
    "UnreadableEntry",
    "cancel_and_wait",
    "flatten_account",
    "hookimpl",
]
