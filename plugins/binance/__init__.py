"""Built-in plugin ``binance``: the Binance USD-M futures connector."""

from __future__ import annotations

from .config import BinanceConfig, Endpoints, resolve_endpoints
from .connector import BinanceConnector
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
from .sink import AccountSink

__all__ = [
    "AccountSink",
    "BinanceAPIError",
    "BinanceConfig",
    "BinanceConnector",
    "BinanceError",
    "BinancePlugin",
    "Endpoints",
    "IPBannedError",
    "ListenKeyError",
    "OrderNotFoundError",
    "RateLimitWaitTooLong",
    "RateLimitedError",
    "ServerError",
    "TimestampError",
    "TransportError",
    "UnknownOrderOutcomeError",
    "resolve_endpoints",
]
