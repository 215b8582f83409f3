"""Order identity over real sockets: ids never repeat across restarts (issue 13, item 1)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from framework.types import OrderRequest
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
