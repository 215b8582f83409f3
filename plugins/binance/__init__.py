"""Built-in plugin ``binance``: the Binance USD-M futures connector."""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.lazy import lazy_exports

from .config import BinanceConfig, Endpoints, resolve_endpoints
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

if TYPE_CHECKING:
    from .connector import BinanceConnector

# the connector (aiohttp) is imported on first use, not with the CLI
__getattr__ = lazy_exports(__name__, {"BinanceConnector": "connector"})

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
