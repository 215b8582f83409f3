"""Helpers for the connector tests: a recording sink, a sim-backed connector, polling."""

from __future__ import annotations

from dataclasses import dataclass, field

from framework.types import Balance, Fill, Order, Position, StreamState, StreamStatus, Tick
from plugins.binance import BinanceConfig, BinanceConnector, Endpoints
from plugins.sim import SimExchange
from plugins.sim.testing import fast_binance_config
from plugins.sim.testing import until as until  # the tests import it from here

# Short intervals so every path runs within a test; no assertion depends on timing.
FAST_CONFIG = fast_binance_config()


@dataclass
class RecordingSink:
    """Test double of the account cache (issue 5): records what the connector applies."""

    balances: list[Balance] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)

    def apply_balance(self, b: Balance) -> bool:
        self.balances.append(b)
        return True

    def apply_position(self, p: Position) -> bool:
        self.positions.append(p)
        return True

    def apply_order(self, o: Order) -> bool:
        self.orders.append(o)
        return True

    def apply_fill(self, f: Fill) -> bool:
        self.fills.append(f)
        return True


@dataclass
class Harness:
    """A started simulator and a connector pointed at it."""

    sim: SimExchange
    connector: BinanceConnector
    sink: RecordingSink
    ticks: list[Tick]
    statuses: list[StreamStatus]

    def states(self, stream: str) -> list[StreamState]:
        return [s.state for s in self.statuses if s.stream == stream]


def make_connector(
    sim: SimExchange,
    *,
    config: BinanceConfig = FAST_CONFIG,
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"),
    routed: bool = True,
    api_secret: str | None = None,
) -> tuple[BinanceConnector, RecordingSink, list[Tick], list[StreamStatus]]:
    import random
    import time

    sink = RecordingSink()
    ticks: list[Tick] = []
    statuses: list[StreamStatus] = []
    connector = BinanceConnector(
        endpoints=Endpoints(sim.rest_url, sim.ws_url, routed),
        api_key=sim.settings.api_key,
        api_secret=api_secret if api_secret is not None else sim.settings.api_secret,
        config=config,
        symbols=symbols,
        sink=sink,
        emit_tick=ticks.append,
        on_status=statuses.append,
        wall_time=time.time,
        rng=random.Random(1),
    )
    return connector, sink, ticks, statuses
