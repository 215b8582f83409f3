"""``tradeloop sim``: run the simulated exchange in the foreground until cancelled."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from .config import SimSettings
from .exchange import SimExchange


def banner(sim: SimExchange) -> str:
    """The one line printed at start: where to connect and with which key."""
    return f"tradeloop sim: rest={sim.rest_url} ws={sim.ws_url} api_key={sim.settings.api_key}"


async def serve_forever(
    settings: SimSettings, port: int, host: str = "127.0.0.1", account_file: Path | None = None
) -> None:
    """Start the exchange on ``host:port``, print the banner line, and serve until cancelled."""
    sim = SimExchange(settings, account_file=account_file)
    await sim.start(host, port)
    try:
        sys.stdout.write(banner(sim) + "\n")
        sys.stdout.flush()
        await asyncio.Event().wait()
    finally:
        await sim.stop()
