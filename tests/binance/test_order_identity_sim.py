"""Order identity over real sockets: ids never repeat across restarts, an unknown outcome is
never resolved to another order, and an order is sent again only when the exchange has twice
said, far enough apart, that it does not exist (issue 13, items 1 and 2)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from aiohttp import web

from framework.types import Order, OrderRequest
from plugins.binance import UnknownOrderOutcomeError
from plugins.sim import SimExchange
from plugins.sim.testing import SimBotFactory, SimFactory

from .conftest import HarnessFactory
from .helpers import FAST_CONFIG, Harness, OwnerOrders, make_connector
from .test_faults_sim import limit_buy

MARKET_BUY = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010"))


def exchange_orders(h: Harness, cid: str) -> list[int]:
    """Order ids the simulator holds under ``cid``, oldest first."""
    return sorted(o.order_id for o in h.sim.engine.orders.values() if o.client_order_id == cid)


async def test_ids_are_new_after_a_restart_that_kept_nothing(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(market_data=False)
    api = OwnerOrders(h.connector, "s1")
    first = [(await api.place(MARKET_BUY)).client_order_id for _ in range(3)]
    await h.connector.close()  # every order is closed: nothing on the exchange names them
    again, *_ = make_connector(h.sim, config=FAST_CONFIG)  # a fresh host: no state at all
    try:
        await again.start(market_data=False)
        api = OwnerOrders(again, "s1")
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
        api = OwnerOrders(bot.ctx.exchange, "s1")
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
    api = OwnerOrders(h.connector, "s1")
    cid = api.new_client_order_id()
    older = await api.place(msgspec.structs.replace(MARKET_BUY, client_order_id=cid))
    assert older.status == "FILLED"
    h.sim.set_faults(unknown_order_outcome_rate=1.0, drop_user_events=1.0)
    outcomes: list[Order | None] = []
    for _ in range(6):
        # later, the same intent is sent again under the same (caller-chosen) id
        now[0] += 10.0
        await h.connector.rest.sync_time()
        before = h.sim.engine.next_order_id
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


async def test_an_order_shown_late_is_never_sent_twice(make_harness: HarnessFactory) -> None:
    """503 on the send, then "does not exist" while the exchange still hides the order: the
    second look, spaced out, finds it. Never two executions of one order."""
    h = await make_harness(market_data=False, late_order_seconds=0.2)
    h.sim.set_faults(unknown_order_outcome_rate=1.0, late_order_rate=1.0, drop_user_events=1.0)
    api = OwnerOrders(h.connector, "s1")
    for _ in range(12):
        cid = api.new_client_order_id()
        request = msgspec.structs.replace(MARKET_BUY, client_order_id=cid)
        try:
            placed = await api.place(request)
        except UnknownOrderOutcomeError:
            assert len(exchange_orders(h, cid)) <= 1
            continue
        assert exchange_orders(h, cid) == [placed.order_id]
    assert h.sim.fault_counts()["late_order_hidden"] >= 1


async def test_a_resend_refused_as_a_duplicate_resolves_to_the_first_send(
    make_harness: HarnessFactory,
) -> None:
    """Shown only after two lookups: the order is sent again under the same id, the exchange
    refuses the copy (-4116, the first is open) and the first send is found."""
    h = await make_harness(market_data=False, late_order_seconds=0.0, late_order_queries=2)
    h.sim.set_faults(unknown_order_outcome_rate=1.0, late_order_rate=1.0, drop_user_events=1.0)
    api = OwnerOrders(h.connector, "s1")
    found = 0
    for _ in range(12):
        request = limit_buy(h)
        cid = api.new_client_order_id()
        try:
            placed = await api.place(msgspec.structs.replace(request, client_order_id=cid))
        except UnknownOrderOutcomeError:
            assert len(exchange_orders(h, cid)) <= 1
            continue
        assert exchange_orders(h, cid) == [placed.order_id]
        found += 1
    assert found >= 1
    assert h.sim.fault_counts()["unknown_order_outcome_executed"] >= 1


Script = dict[str, tuple[int, int, str]]


@pytest.fixture
async def scripted_exchange() -> AsyncIterator[tuple[str, list[str], Script]]:
    """A Binance-like server on loopback: every new order is answered 503 "Unknown error", the
    first order query ``script["first_query"]`` (status, code, message; default "does not
    exist", -2013) and every later one 503 again. Yields its URL, the log of requests and the
    script."""
    log: list[str] = []
    script: Script = {"first_query": (400, -2013, "Order does not exist.")}

    async def handler(request: web.Request) -> web.Response:
        log.append(f"{request.method} {request.path}")
        if request.path == "/fapi/v1/time":
            return web.json_response({"serverTime": int(time.time() * 1000)})
        if request.method == "GET" and log.count("GET /fapi/v1/order") == 1:
            status, code, msg = script["first_query"]
            return web.json_response({"code": code, "msg": msg}, status=status)
        return web.json_response({"code": -1000, "msg": "Unknown error"}, status=503)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", log, script
    await runner.cleanup()


async def place_on(url: str, sim: SimExchange) -> None:
    """One market order through a connector whose REST goes to ``url``."""
    connector, *_ = make_connector(sim, config=FAST_CONFIG)
    connector.rest.base_url = url
    try:
        await connector.rest.start()
        await OwnerOrders(connector, "s1").place(MARKET_BUY)
    finally:
        await connector.close()


async def test_a_single_not_found_among_failures_never_resends(
    scripted_exchange: tuple[str, list[str], Script], sim_exchange: SimExchange
) -> None:
    url, log, _ = scripted_exchange
    with pytest.raises(UnknownOrderOutcomeError):
        await place_on(url, sim_exchange)
    assert log.count("GET /fapi/v1/order") > 1  # asked again after the one "not found"
    assert log.count("POST /fapi/v1/order") == 1  # and never sent the order twice


async def test_any_failed_query_leaves_the_outcome_unknown(
    scripted_exchange: tuple[str, list[str], Script], sim_exchange: SimExchange
) -> None:
    """A query refused for another reason (here -1022) says nothing about the order: the
    caller gets ``UnknownOrderOutcomeError``, not that refusal as if the order had been."""
    url, log, script = scripted_exchange
    script["first_query"] = (400, -1022, "Signature for this request is not valid.")
    with pytest.raises(UnknownOrderOutcomeError):
        await place_on(url, sim_exchange)
    assert log.count("POST /fapi/v1/order") == 1
