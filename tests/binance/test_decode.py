"""Parser tests over every payload in tests/payloads (and malformed input)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import orjson
import pytest

from plugins.binance import decode as d
from plugins.binance.decode import Kind
from tests.support import PAYLOADS

ALL = sorted(PAYLOADS.glob("*.json"))
FUTURES_WS = [p for p in ALL if p.name.startswith("futures_ws_")]
SPOT = [p for p in ALL if p.name.startswith("spot_")]

USER_EVENTS = {
    "futures_ws_ACCOUNT_UPDATE.json": Kind.EVENT,
    "futures_ws_ACCOUNT_UPDATE_bnfcr_fixture.json": Kind.EVENT,
    "futures_ws_ORDER_TRADE_UPDATE.json": Kind.EVENT,
    "futures_ws_ORDER_TRADE_UPDATE_liquidation_fixture.json": Kind.EVENT,
    "futures_ws_listenKeyExpired.json": Kind.EVENT,
    "futures_ws_TRADE_LITE.json": Kind.IGNORED,
    "futures_ws_MARGIN_CALL.json": Kind.IGNORED,
    "futures_ws_ACCOUNT_CONFIG_UPDATE_leverage.json": Kind.IGNORED,
    "futures_ws_ACCOUNT_CONFIG_UPDATE_multi_assets.json": Kind.IGNORED,
    "futures_ws_ALGO_UPDATE.json": Kind.IGNORED,
    "futures_ws_CONDITIONAL_ORDER_TRIGGER_REJECT_deprecated.json": Kind.IGNORED,
    "futures_ws_aggTrade.json": Kind.UNKNOWN,
    "futures_ws_kline.json": Kind.UNKNOWN,
    "futures_ws_bookTicker.json": Kind.UNKNOWN,
}


def test_the_payload_folder_is_there() -> None:
    assert len(FUTURES_WS) == len(USER_EVENTS)
    assert {p.name for p in FUTURES_WS} == set(USER_EVENTS)


@pytest.mark.parametrize("path", FUTURES_WS, ids=lambda p: p.name)
def test_every_futures_stream_payload_is_classified(path: Path) -> None:
    kind, event = d.decode_user_event(path.read_bytes())
    assert kind is USER_EVENTS[path.name]
    assert (event is not None) == (kind in (Kind.EVENT, Kind.IGNORED))
    market_kind, tick = d.decode_market_fallback(path.read_bytes())
    assert (tick is not None) == (path.name == "futures_ws_bookTicker.json")
    assert market_kind in (Kind.EVENT, Kind.UNKNOWN, Kind.MALFORMED)


@pytest.mark.parametrize("path", SPOT, ids=lambda p: p.name)
def test_spot_payloads_never_crash(path: Path) -> None:
    raw = path.read_bytes()
    kind, _ = d.decode_user_event(raw)
    assert kind in (Kind.UNKNOWN, Kind.CONTROL, Kind.EVENT, Kind.MALFORMED)
    if "executionReport" in path.name or "outboundAccountPosition" in path.name:
        assert kind is Kind.UNKNOWN  # spot events are not futures events: counted, ignored
    d.decode_market_fallback(raw)


def test_account_update_converts_to_framework_types() -> None:
    _, event = d.decode_user_event((PAYLOADS / "futures_ws_ACCOUNT_UPDATE.json").read_bytes())
    assert isinstance(event, d.AccountUpdate)
    balances = d.balances_of(event)
    assert balances[0].asset == "USDT"
    assert balances[0].wallet_balance == Decimal("122624.12345678")
    assert balances[0].cross_wallet_balance == Decimal("100.12345678")
    assert balances[0].event_time == 1564745798939
    positions = d.positions_of(event)
    assert [(p.side, p.amount) for p in positions] == [
        ("BOTH", Decimal("0")),
        ("LONG", Decimal("20")),
        ("SHORT", Decimal("-10")),
    ]
    assert positions[2].break_even_price == Decimal("6563.6")
    assert positions[0].break_even_price == Decimal("0")


def test_order_trade_update_converts_to_order_and_no_fill_for_new() -> None:
    raw = (PAYLOADS / "futures_ws_ORDER_TRADE_UPDATE.json").read_bytes()
    _, event = d.decode_user_event(raw)
    assert isinstance(event, d.OrderTradeUpdate)
    order = d.order_of(event)
    assert order.client_order_id == "TEST"
    assert order.order_id == 8886774
    assert order.status == "NEW"
    assert order.position_side == "LONG"
    assert order.orig_qty == Decimal("0.001")
    assert d.fill_of(event) is None


def test_trade_execution_gives_a_fill() -> None:
    data = orjson.loads((PAYLOADS / "futures_ws_ORDER_TRADE_UPDATE.json").read_bytes())
    data["o"].update(
        {
            "x": "TRADE",
            "X": "FILLED",
            "t": 77,
            "l": "0.001",
            "L": "7100.5",
            "n": "0.0028",
            "N": "USDT",
            "rp": "1.5",
            "m": True,
            "z": "0.001",
        }
    )
    _, event = d.decode_user_event(orjson.dumps(data))
    assert isinstance(event, d.OrderTradeUpdate)
    fill = d.fill_of(event)
    assert fill is not None
    assert (fill.trade_id, fill.qty, fill.price, fill.fee, fill.realized_pnl, fill.is_maker) == (
        77,
        Decimal("0.001"),
        Decimal("7100.5"),
        Decimal("0.0028"),
        Decimal("1.5"),
        True,
    )


def test_liquidation_in_a_combined_envelope_gives_a_fill() -> None:
    raw = (PAYLOADS / "futures_ws_ORDER_TRADE_UPDATE_liquidation_fixture.json").read_bytes()
    _, event = d.decode_user_event(raw)
    assert isinstance(event, d.OrderTradeUpdate)
    assert event.o.c.startswith("autoclose-")
    fill = d.fill_of(event)
    assert fill is not None
    assert fill.qty == Decimal("0.100")


def test_book_ticker_becomes_a_tick() -> None:
    raw = (PAYLOADS / "futures_ws_bookTicker.json").read_bytes()
    combined = b'{"stream":"bnbusdt@bookTicker","data":' + raw + b"}"
    kind, tick = d.decode_market(combined)
    assert kind is Kind.EVENT
    assert tick is not None
    assert (tick.symbol, tick.bid, tick.ask_qty, tick.update_id) == (
        "BNBUSDT",
        Decimal("25.35190000"),
        Decimal("40.66000000"),
        400900217,
    )


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"", Kind.MALFORMED),
        (b"{not json", Kind.MALFORMED),
        (b"[1,2]", Kind.MALFORMED),
        (b'{"e":"ACCOUNT_UPDATE","E":"soon"}', Kind.MALFORMED),
        (b'{"e":"ORDER_TRADE_UPDATE","E":1,"o":{"s":"X"}}', Kind.MALFORMED),
        (b'{"e":"SOMETHING_NEW","E":1}', Kind.UNKNOWN),
        (b'{"result":null,"id":1}', Kind.CONTROL),
    ],
)
def test_bad_user_messages_are_classified(raw: bytes, kind: Kind) -> None:
    assert d.decode_user_event(raw) == (kind, None)


def test_bad_market_messages_are_classified() -> None:
    assert d.decode_market(b"{oops") == (Kind.MALFORMED, None)
    assert d.decode_market(b'{"stream":"btcusdt@aggTrade","data":{}}')[0] is Kind.UNKNOWN
    assert d.decode_market(b'{"stream":"btcusdt@bookTicker","data":{"s":1}}')[0] is Kind.MALFORMED
    assert d.decode_market(b'{"result":null,"id":3}')[0] is Kind.CONTROL


# ------------------------------------------------------------------------------- REST


def test_rest_orders_parse() -> None:
    new = msgspec.json.decode(
        (PAYLOADS / "futures_rest_newOrder_response.json").read_bytes(), type=d.RestOrder
    )
    order = new.to_order()
    assert (order.client_order_id, order.order_id, order.position_side) == (
        "testOrder",
        22542179,
        "SHORT",
    )
    assert order.event_time == 1566818724722
    cancel = msgspec.json.decode(
        (PAYLOADS / "futures_rest_cancelOrder_response.json").read_bytes(), type=d.RestOrder
    )
    assert cancel.to_order().status
    rows = msgspec.json.decode(
        (PAYLOADS / "futures_rest_openOrders_response.json").read_bytes(), type=list[d.RestOrder]
    )
    assert rows[0].to_order().price == Decimal("0")


def test_rest_account_parts_parse() -> None:
    balances = msgspec.json.decode(
        (PAYLOADS / "futures_rest_balance_v3.json").read_bytes(), type=list[d.RestBalance]
    )
    b = balances[0].to_balance(0)
    assert b.wallet_balance == Decimal("122607.35137903")
    assert b.available_balance == Decimal("23.72469206")
    for name in (
        "futures_rest_positionRisk_v3_oneway.json",
        "futures_rest_positionRisk_v3_hedge.json",
        "futures_rest_positionRisk_v2_oneway.json",
    ):
        rows = msgspec.json.decode((PAYLOADS / name).read_bytes(), type=list[d.RestPosition])
        assert all(r.to_position(1).side in ("BOTH", "LONG", "SHORT") for r in rows)
    assert (
        msgspec.json.decode(
            (PAYLOADS / "futures_rest_time.json").read_bytes(), type=d.ServerTime
        ).serverTime
        > 0
    )
    for name in (
        "futures_rest_listenKey_post_response.json",
        "futures_rest_listenKey_put_response.json",
    ):
        answer = msgspec.json.decode((PAYLOADS / name).read_bytes(), type=d.ListenKeyAnswer)
        assert answer.listenKey


@pytest.mark.parametrize(
    "path", [p for p in ALL if p.name.startswith("futures_rest_account")], ids=lambda p: p.name
)
def test_account_payloads_are_valid_json(path: Path) -> None:
    # The connector reads balances and positions from /v3/balance and /v3/positionRisk; the
    # account payloads must at least never crash the error-body decoder used on every answer.
    assert d.decode_error_body(path.read_bytes()) is None


@pytest.mark.parametrize(
    "path", [p for p in ALL if p.name.startswith("error_body")], ids=lambda p: p.name
)
def test_error_bodies_parse(path: Path) -> None:
    body = d.decode_error_body(path.read_bytes())
    assert body is not None
    assert body.code < 0
    assert body.msg
