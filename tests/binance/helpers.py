"""Helpers for the connector tests: a recording sink, a sim-backed connector, polling."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from framework.exchange import FrameTap
from framework.types import (
    Balance,
    Fill,
    Order,
    OrderRequest,
    Position,
    StreamState,
    StreamStatus,
    Tick,
)
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

    def begin_event(self) -> None:
        pass

    def end_event(self) -> None:
        pass


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
    exchange_time: Callable[[], float] | None = None,
    taps: Sequence[FrameTap] = (),
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
        exchange_time=exchange_time or time.time,
        rng=random.Random(1),
        taps=taps,
    )
    return connector, sink, ticks, statuses


class OwnerOrders:
    """Place, cancel and query as one owner (strategy instance), straight on the connector."""

    def __init__(self, connector: BinanceConnector, owner: str) -> None:
        self._connector = connector
        self.owner = owner

    def new_client_order_id(self) -> str:
        """The owner's next client order id."""
        return self._connector.ids.next(self.owner)

    async def place(self, request: OrderRequest) -> Order:
        """Send ``request`` under the owner's next id (unless it names one)."""
        return await self._connector.place_order(request, owner=self.owner)

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        """Cancel by client order id."""
        return await self._connector.cancel_order(symbol, client_order_id)

    async def query(self, symbol: str, client_order_id: str) -> Order | None:
        """Query by client order id."""
        return await self._connector.query_order(symbol, client_order_id)
