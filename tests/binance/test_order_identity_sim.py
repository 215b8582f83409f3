"""Order identity over real sockets: ids never repeat across restarts, and an unknown outcome
is never resolved to another order (issue 13, item 1)."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from framework.types import Order, OrderRequest
from plugins.binance import UnknownOrderOutcomeError
from plugins.sim.testing import SimBotFactory, SimFactory

from .conftest import HarnessFactory
from .helpers import FAST_CONFIG, Harness, make_connector

MARKET_BUY = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010"))


def exchange_orders(h: Harness, cid: str) -> list[int]:
    """Order ids the simulator holds under ``cid``, oldest first."""
    return sorted(o.order_id for o in h.sim.engine.orders.values() if o.client_order_id == cid)


async def test_ids_are_new_after_a_restart_that_kept_nothing(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(market_data=False)
    api = h.connector.orders_for("s1")
    first = [(await api.place(MARKET_BUY)).client_order_id for _ in range(3)]
    await h.connector.close()  # every order is closed: nothing on the exchange names them
    again, *_ = make_connector(h.sim, config=FAST_CONFIG)  # a fresh host: no state at all
    try:
        await again.start(market_data=False)
        api = again.orders_for("s1")
        second = [(await api.place(MARKET_BUY)).client_order_id for _ in range(3)]
        assert set(first).isdisjoint(second)
        assert {again.owner_of(cid) for cid in first + second} == {"s1"}
        for cid in first + second:
            assert len(exchange_orders(h, cid)) == 1
    finally:
        await again.close()


@pytest.mark.parametrize("damage", [b"", b'{"s1": 4', b"\x00\xff garbage"])
async def test_a_damaged_leftover_id_file_changes_nothing(
    damage: bytes, sim_bot: SimBotFactory, sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = await sim_factory()
    data_dir = tmp_path / "data"
    settings = {"runtime": {"data_dir": str(data_dir)}}
    state = data_dir / "binance" / "client_order_ids.json"
    seen: list[str] = []
    for _ in range(2):
        bot = await sim_bot(overrides=settings, sim=sim)
        api = bot.ctx.exchange.orders_for("s1")
        seen += [(await api.place(MARKET_BUY)).client_order_id for _ in range(2)]
        await bot.stop()
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_bytes(damage)  # lost, truncated or overwritten between two runs
    assert len(set(seen)) == len(seen) == 4
    assert state.read_bytes() == damage  # never read, never rewritten


async def test_an_unknown_outcome_is_never_resolved_to_an_older_namesake(
    make_harness: HarnessFactory,
) -> None:
    now = [time.time()]
    h = await make_harness(market_data=False, clock=lambda: now[0])
    api = h.connector.orders_for("s1")
    cid = api.new_client_order_id()
    older = await api.place(msgspec.structs.replace(MARKET_BUY, client_order_id=cid))
    assert older.status == "FILLED"
    h.sim.set_faults(unknown_order_outcome_rate=1.0, drop_user_events=1.0)
    outcomes: list[Order | None] = []
    for _ in range(6):
        # later, the same intent is sent again under the same (caller-chosen) id
        now[0] += 10.0
        await h.connector.rest.sync_time()
        before = h.sim.engine._next_order_id
        request = msgspec.structs.replace(MARKET_BUY, client_order_id=cid)
        try:
            placed: Order | None = await api.place(request)
        except UnknownOrderOutcomeError:
            placed = None
        made = [o for o in exchange_orders(h, cid) if o >= before]
        assert len(made) <= 1
        if placed is not None:  # reported placed: it is the order this send made
            assert [placed.order_id] == made
        outcomes.append(placed)
    assert h.sim.fault_counts()["unknown_order_outcome_executed"] < 6  # some never executed
    assert older.order_id not in {o.order_id for o in outcomes if o is not None}
