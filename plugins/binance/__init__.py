"""Built-in plugin ``binance``: the Binance USD-M futures connector."""

from __future__ import annotations

from .config import BinanceConfig, Endpoints, resolve_endpoints
from .connector import BinanceConnector, StrategyOrders
from .errors import (
    BinanceAPIError,
    BinanceError,
    IPBannedError,
    ListenKeyError,
    OrderNotFoundError,
    RateLimitedError,
    RateLimitWaitTooLong,
    ServerError,
    TimestampError,
    TransportError,
    UnknownOrderOutcomeError,
)
from .plugin import BinancePlugin
from .sink import AccountSink, HookSink

__all__ = [
    "AccountSink",
    "BinanceAPIError",
    "BinanceConfig",
    "BinanceConnector",
    "BinanceError",
    "BinancePlugin",
    "Endpoints",
    "HookSink",
    "IPBannedError",
    "ListenKeyError",
    "OrderNotFoundError",
    "RateLimitWaitTooLong",
    "RateLimitedError",
    "ServerError",
    "StrategyOrders",
    "TimestampError",
    "TransportError",
    "UnknownOrderOutcomeError",
    "resolve_endpoints",
]
