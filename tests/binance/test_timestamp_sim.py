"""-1021 after the local clock jumps: the clock is re-measured, a read is sent again, and an
order is looked up by its client order id before it is ever sent again (simulator, loopback).

The simulator and the connector read one clock; a tap jumps it as a chosen request leaves,
after it was signed and before the simulator checks its ``timestamp``: what a manual clock (or
an NTP step) moving mid-request does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal

import pytest

from framework.types import OrderRequest
from plugins.binance import BinanceConnector
from plugins.binance.errors import TimestampError
from plugins.sim import SimExchange
from plugins.sim.testing import SimFactory

from .helpers import make_connector

ORDER = "/fapi/v1/order"


class JumpingClock:
    """A clock that moves only when told (the simulator's and the connector's)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        return self.now


class Jumper:
    """A ``FrameTap`` that moves the clock as a request leaves: ``jumps[n]`` seconds as the
    n-th request from now on leaves (after signing, before the exchange reads it)."""

    def __init__(self, clock: JumpingClock) -> None:
        self.clock = clock
        self.jumps: list[float] = []
        self.seen: list[tuple[str, str, int]] = []

    def stream_frames(self, stream: str) -> Callable[[bytes], None]:
        return lambda frame: None

    def rest_sent(self) -> float:
        if self.jumps:
            self.clock.now += self.jumps.pop(0)
        return 0.0

    def rest_answered(
        self,
        stamp: float,
        method: str,
        path: str,
        params: Mapping[str, str],
        status: int,
        body: bytes,
    ) -> None:
        self.seen.append((method, path, status))

    def arm(self, *jumps: float) -> None:
        self.jumps = list(jumps)
        self.seen.clear()


Setup = tuple[SimExchange, BinanceConnector, Jumper]


@pytest.fixture
async def setup(sim_factory: SimFactory) -> AsyncIterator[Setup]:
    clock = JumpingClock()
    sim = await sim_factory(clock=clock.time, updates_per_second=0)
    jumper = Jumper(clock)
    connector, *_ = make_connector(sim, exchange_time=clock.time, taps=[jumper])
    await connector.start(user_data=False, market_data=False)
    yield sim, connector, jumper
    await connector.close()


def resting_buy(sim: SimExchange, cid: str) -> OrderRequest:
    price = (sim.engine.mark_price("BTCUSDT") * Decimal("0.8")).quantize(Decimal("0.1"))
    return OrderRequest(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=Decimal("0.010"),
        price=price,
        client_order_id=cid,
    )


def orders_with(sim: SimExchange, cid: str) -> int:
    return sum(1 for o in sim.engine.orders.values() if o.client_order_id == cid)


async def test_an_order_refused_for_a_jump_is_looked_up_then_sent_once(setup: Setup) -> None:
    sim, connector, jumper = setup
    jumper.arm(60.0)  # the order leaves signed at t, the exchange reads it at t + 60 s
    order = await connector.place_order(resting_buy(sim, "tl-jump-1"), owner="s1")
    assert order.status == "NEW"
    assert orders_with(sim, "tl-jump-1") == 1
    calls = [(m, p, s) for m, p, s in jumper.seen if p != "/fapi/v1/time"]
    # refused, looked up by client order id (does not exist), sent again under the same id
    assert calls == [("POST", ORDER, 400), ("GET", ORDER, 400), ("POST", ORDER, 200)]
    assert connector.rest.stats.timestamp_resyncs == 1
    assert connector.orders.stats.timestamp_resent == 1
    assert abs(connector.rest.time.offset_ms) < 1000


async def test_a_jump_during_the_re_measure_never_skews_the_clock(setup: Setup) -> None:
    sim, connector, jumper = setup
    # the order is refused (jump 1), and the clock jumps again during two of the re-measure's
    # three server-time samples: each would put the offset 30 s ahead (their median too, and
    # the order sent again would be refused as ahead); both are dropped and replaced
    jumper.arm(60.0, 60.0, 60.0)
    order = await connector.place_order(resting_buy(sim, "tl-jump-2"), owner="s1")
    assert order.client_order_id == "tl-jump-2"
    assert orders_with(sim, "tl-jump-2") == 1
    assert connector.rest.stats.clock_jumps == 2
    assert abs(connector.rest.time.offset_ms) < 1000


async def test_an_order_the_exchange_has_is_never_sent_again(setup: Setup) -> None:
    """Should the exchange hold the order after a -1021 after all (an earlier copy of the
    request got through), the look-up finds it and nothing is sent again."""
    sim, connector, jumper = setup
    request = resting_buy(sim, "tl-jump-3")
    assert request.price is not None
    await sim.place_order(
        "BTCUSDT",
        "BUY",
        request.quantity,
        order_type="LIMIT",
        price=request.price,
        client_order_id="tl-jump-3",
    )
    jumper.arm(60.0)
    order = await connector.place_order(request, owner="s1")
    assert (order.client_order_id, order.status) == ("tl-jump-3", "NEW")
    assert orders_with(sim, "tl-jump-3") == 1
    assert [c for c in jumper.seen if c[0] == "POST"] == [("POST", ORDER, 400)]
    assert connector.orders.stats.timestamp_found == 1


async def test_a_second_refusal_is_raised_not_retried_again(setup: Setup) -> None:
    sim, connector, jumper = setup
    # refused; the re-measure's three samples are clean; the look-up passes; the resend is
    # refused again (jump 4): raised, and the order is on the exchange at most once (never)
    jumper.arm(60.0, 0.0, 0.0, 0.0, 0.0, 60.0)
    with pytest.raises(TimestampError):
        await connector.place_order(resting_buy(sim, "tl-jump-4"), owner="s1")
    assert orders_with(sim, "tl-jump-4") == 0
    assert [c for c in jumper.seen if c[0] == "POST"] == [("POST", ORDER, 400)] * 2


async def test_a_read_refused_for_a_jump_is_sent_again(setup: Setup) -> None:
    _, connector, jumper = setup
    jumper.arm(3600.0)
    assert await connector.orders.open_orders("BTCUSDT") == []
    calls = [(m, p, s) for m, p, s in jumper.seen if p != "/fapi/v1/time"]
    assert calls == [("GET", "/fapi/v1/openOrders", 400), ("GET", "/fapi/v1/openOrders", 200)]
    assert connector.rest.stats.timestamp_resyncs == 1
