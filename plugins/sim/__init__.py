"""A simulated Binance USD-M futures exchange speaking the real wire protocol over loopback."""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.lazy import lazy_exports

from .config import DEMO_API_KEY, DEMO_API_SECRET, FaultSettings, SimSettings, parse_sim_settings
from .errors import BinanceError

if TYPE_CHECKING:
    from .exchange import SimExchange, Truth
    from .standalone import serve_forever

# the exchange (aiohttp) is imported on first use, not with the CLI
__getattr__ = lazy_exports(
    __name__, {"SimExchange": "exchange", "Truth": "exchange", "serve_forever": "standalone"}
)

__all__ = [
    "DEMO_API_KEY",
    "DEMO_API_SECRET",
    "BinanceError",
    "FaultSettings",
    "SimExchange",
    "SimSettings",
    "Truth",
    "parse_sim_settings",
    "serve_forever",
]
