"""tradeloop's public surface: what plugins and strategies import.

Everything else under ``framework`` is the core's own business and may change.
"""

from framework.cache import AccountView
from framework.clock import Clock, ManualClock, SystemClock
from framework.commands import Command
from framework.context import BotContext, Hooks
from framework.errors import PluginLoadError, SettingsError, TradeloopError
from framework.exchange import ExchangeConnector
from framework.hookspecs import hookimpl
from framework.settings import Settings
from framework.types import (
    AccountSnapshot,
    Balance,
    DailyJob,
    DailyReport,
    Fill,
    IntervalJob,
    Job,
    Mismatch,
    Order,
    OrderRequest,
    PluginError,
    Position,
    ReconcileResult,
    StreamState,
    StreamStatus,
    Tick,
)

__all__ = [
    "AccountSnapshot",
    "AccountView",
    "Balance",
    "BotContext",
    "Clock",
    "Command",
    "DailyJob",
    "DailyReport",
    "ExchangeConnector",
    "Fill",
    "Hooks",
    "IntervalJob",
    "Job",
    "ManualClock",
    "Mismatch",
    "Order",
    "OrderRequest",
    "PluginError",
    "PluginLoadError",
    "Position",
    "ReconcileResult",
    "Settings",
    "SettingsError",
    "StreamState",
    "StreamStatus",
    "SystemClock",
    "Tick",
    "TradeloopError",
    "hookimpl",
]
