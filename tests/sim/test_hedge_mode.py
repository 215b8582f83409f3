"""Hedge mode (``plugins.sim.dual_side_position``): a LONG and a SHORT position per symbol,
every order names its ``positionSide``, ``reduceOnly`` is refused, a closing order can only
reduce its side; the REST answers, the user-data events and the saved account carry the sides."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sim_helpers import Client

from plugins.sim import SimExchange
from plugins.sim.account import AccountFileError, account_path
from plugins.sim.testing import SimFactory, sim_settings

D = Decimal


def market(side: str, qty: str, **more: Any) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty, **more}


async def refused(client: Client, params: dict[str, Any], code: int) -> str:
    status, body, _ = await client.call("POST", "/fapi/v1/order", params)
    assert (status, body.get("code")) == (400, code), body
    return str(body["msg"])


async def test_orders_name_their_side_and_close_only_what_it_holds(
    make_sim: SimFactory, http: Any
) -> None:
    sim = await make_sim(dual_side_position=True)
    client = Client(http, sim)
    assert await client.ok("GET", "/fapi/v1/positionSide/dual") == {"dualSidePosition": True}
    msg = await refused(client, market("BUY", "0.010"), -4061)
    assert msg == "Order's position side does not match user's setting."
    msg = await refused(
        client, market("BUY", "0.010", positionSide="LONG", reduceOnly="false"), -1106
    )
    assert msg == "Parameter 'reduceOnly' sent when not required."
    assert await refused(client, market("SELL", "0.010", positionSide="LONG"), -2022)
    long = await client.order(**market("BUY", "0.020", positionSide="LONG"))
    assert (long["positionSide"], long["status"]) == ("LONG", "FILLED")
    await client.order(**market("SELL", "0.010", positionSide="SHORT"))
    rows = await client.ok("GET", "/fapi/v3/positionRisk")
    assert {(r["positionSide"], r["positionAmt"]) for r in rows} == {
        ("LONG", "0.020"),
        ("SHORT", "-0.010"),
    }
    # a close bigger than the side fills what the side holds, never opens the other way
    closing = await client.order(**market("SELL", "0.050", positionSide="LONG"))
    assert D(closing["executedQty"]) == D("0.020")
    truth = sim.truth().positions
    assert (truth["BTCUSDT:LONG"].amount, truth["BTCUSDT:SHORT"].amount) == (0, D("-0.010"))
    trades = await client.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
    assert [t["positionSide"] for t in trades] == ["LONG", "SHORT", "LONG"]


async def test_one_way_mode_refuses_a_position_side(sim: SimExchange, client: Client) -> None:
    assert await client.ok("GET", "/fapi/v1/positionSide/dual") == {"dualSidePosition": False}
    await refused(client, market("BUY", "0.010", positionSide="LONG"), -4061)
    await refused(client, market("BUY", "0.010", positionSide="UP"), -1130)


async def test_the_saved_account_keeps_the_sides_and_refuses_the_other_mode(
    tmp_path: Path,
) -> None:
    path = account_path(tmp_path)
    hedge = sim_settings(updates_per_second=0, dual_side_position=True)
    first = SimExchange(hedge, account_file=path)
    await first.start()
    await first.place_order("BTCUSDT", "BUY", "0.010", position_side="LONG")
    await first.place_order("BTCUSDT", "SELL", "0.020", position_side="SHORT")
    await first.stop()
    second = SimExchange(hedge, account_file=path)
    await second.start()
    try:
        positions = second.truth().positions
        assert (positions["BTCUSDT:LONG"].amount, positions["BTCUSDT:SHORT"].amount) == (
            D("0.010"),
            D("-0.020"),
        )
    finally:
        await second.stop()
    with pytest.raises(AccountFileError, match=r"hedge-mode position on BTCUSDT .*dual_side_pos"):
        SimExchange(sim_settings(updates_per_second=0), account_file=path)
