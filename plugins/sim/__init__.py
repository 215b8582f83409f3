"""A simulated Binance USD-M futures exchange speaking the real wire protocol over loopback."""

from __future__ import annotations

from .config import DEMO_API_KEY, DEMO_API_SECRET, FaultSettings, SimSettings, parse_sim_settings
from .errors import BinanceError
from .exchange import SimExchange, Truth
from .standalone import serve_forever

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
