"""The ACCOUNT_UPDATE hot path (``UserDataStream.handle``) against a plain reference decoder.

The hot path decodes with one typed msgspec call (money straight to ``Decimal``, unused wire
fields skipped, a lenient slow path for a non-numeric ``bep``) and builds the framework objects
inline. These tests check it hands the sink exactly what a straightforward decoder (orjson, then
``Decimal(str)`` per field) would, and leaves the core's ``AccountCache`` in exactly the same
state, over generated streams with repeated, unchanged, stale, duplicate and closing entries.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.cache import AccountCache
from framework.types import Balance, Fill, Order, Position
from plugins.binance import decode as d
from plugins.binance.config import BinanceConfig, Endpoints
from plugins.binance.counters import EventCounters
from plugins.binance.decode import Kind
from plugins.binance.ids import ClientOrderIds
from plugins.binance.orders import OrderService
from plugins.binance.rest import RestClient
from plugins.binance.signing import HmacSigner
from plugins.binance.user_stream import UserDataStream
from tests.support import PAYLOADS


class RecordingSink:
    """Records every object the stream hands over, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def apply_balance(self, b: Balance) -> bool:
        self.calls.append(("balance", b))
        return True

    def apply_position(self, p: Position) -> bool:
        self.calls.append(("position", p))
        return True

    def apply_order(self, o: Order) -> bool:
        self.calls.append(("order", o))
        return True

    def apply_fill(self, f: Fill) -> bool:
        self.calls.append(("fill", f))
        return True

    def begin_event(self) -> None:
        pass

    def end_event(self) -> None:
        pass


class Log:
    """A cache listener that records every change it is told about."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, Any]] = []

    def on_balance_update(self, before: Balance | None, after: Balance) -> None:
        self.events.append(("balance", before, after))

    def on_position_update(self, before: Position | None, after: Position) -> None:
        self.events.append(("position", before, after))

    def on_order_update(self, before: Order | None, after: Order) -> None:
        self.events.append(("order", before, after))

    def on_fill(self, fill: Fill) -> None:
        self.events.append(("fill", None, fill))


def user_stream(sink: Any) -> UserDataStream:
    """A ``UserDataStream`` whose ``handle`` can be called directly (no socket, no REST)."""
    config = BinanceConfig()
    endpoints = Endpoints("http://127.0.0.1:1", "ws://127.0.0.1:1", False)
    rest = RestClient(
        base_url=endpoints.rest_url, api_key="k", signer=HmacSigner("s"), config=config
    )
    rest._session = object()  # type: ignore[assignment]  # only read, never used
    return UserDataStream(
        rest=rest,
        endpoints=endpoints,
        config=config,
        sink=sink,
        orders=OrderService(rest, ClientOrderIds(), resolve_attempts=1, not_found_spacing=1.0),
        counters=EventCounters(),
        on_state=lambda *_: None,
    )


def reference_apply(raw: bytes, sink: Any) -> None:
    """The obvious decoder: orjson dicts, ``Decimal(str)`` per money field, then the sink."""
    msg = orjson.loads(raw)
    msg = msg.get("data", msg)
    when = msg["E"]
    for b in msg["a"].get("B", []):
        sink.apply_balance(
            Balance(
                asset=b["a"],
                wallet_balance=Decimal(b["wb"]),
                cross_wallet_balance=Decimal(b["cw"]),
                event_time=when,
            )
        )
    for p in msg["a"].get("P", []):
        bep = p.get("bep", "")
        sink.apply_position(
            Position(
                symbol=p["s"],
                side=p.get("ps", "BOTH"),
                amount=Decimal(p["pa"]),
                entry_price=Decimal(p["ep"]),
                unrealized_pnl=Decimal(p["up"]),
                event_time=when,
                break_even_price=Decimal(bep) if bep else None,
            )
        )


def exact(objs: Any) -> bytes:
    """Encoding that tells ``Decimal("0")`` from ``Decimal("0.00000")`` (equal, not the same)."""
    return msgspec.json.encode(objs)


# ------------------------------------------------------------------------ generated streams

AMOUNTS = st.sampled_from(
    ["0", "0.00000000", "0.00000", "1", "1.50", "-3.25", "122624.12345678", "97000.1", "-0.001"]
)
MONEY = st.one_of(
    AMOUNTS,
    st.decimals(
        allow_nan=False, allow_infinity=False, places=8, min_value=-(10**7), max_value=10**7
    ).map(str),
)
PRICE = st.one_of(  # entry prices are never negative (a negative one is dropped: checks.py)
    st.sampled_from(["0", "0.00000000", "1.50", "122624.12345678", "97000.1"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=0, max_value=10**7).map(
        str
    ),
)
BALANCE = st.fixed_dictionaries(
    {"a": st.sampled_from(["USDT", "USDC", "BNB", "BTC"]), "wb": MONEY, "cw": MONEY, "bc": MONEY}
)
POSITION = st.fixed_dictionaries(
    {
        "s": st.sampled_from(["BTCUSDT", "ETHUSDT"]),
        "pa": AMOUNTS,
        "ep": PRICE,
        "up": MONEY,
        "ps": st.sampled_from(["BOTH", "LONG", "SHORT"]),
        "cr": MONEY,
        "mt": st.sampled_from(["cross", "isolated"]),
        "iw": MONEY,
    },
    optional={"bep": st.one_of(MONEY, st.just(""))},
)


@st.composite
def account_updates(draw: st.DrawFn) -> list[bytes]:
    """ACCOUNT_UPDATE messages: event times that mostly rise but may repeat or go back, entries
    that repeat unchanged, positions that close (``pa`` 0), exact duplicates, envelopes."""
    out: list[bytes] = []
    when = 1_000
    for _ in range(draw(st.integers(1, 12))):
        when += draw(st.sampled_from([0, 1, 1, 1, 5, -3]))
        balances = draw(st.lists(BALANCE, max_size=4))
        positions = draw(st.lists(POSITION, max_size=4))
        msg = {"e": "ACCOUNT_UPDATE", "E": when, "T": when - 1, "a": {"m": "ORDER"}}
        msg["a"]["B"] = balances
        msg["a"]["P"] = positions
        raw = orjson.dumps(msg)
        if draw(st.booleans()) and out:
            out.append(out[-1])  # the same message again (rotation overlap)
        if draw(st.integers(0, 9)) == 0:
            raw = b'{"stream":"benchkey","data":' + raw + b"}"
        out.append(raw)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account_updates())
def test_handle_hands_the_sink_what_a_plain_decoder_would(stream: list[bytes]) -> None:
    fast, plain = RecordingSink(), RecordingSink()
    user = user_stream(fast)
    for raw in stream:
        user.handle(raw)
        reference_apply(raw, plain)
    assert fast.calls == plain.calls
    assert exact(fast.calls) == exact(plain.calls)
    assert user.counters.account_updates == len(stream)
    assert (user.counters.malformed, user.counters.dispatch_errors) == (0, 0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account_updates())
def test_handle_leaves_the_cache_exactly_as_a_plain_decoder_would(stream: list[bytes]) -> None:
    fast_log, plain_log = Log(), Log()
    fast, plain = AccountCache(fast_log), AccountCache(plain_log)
    user = user_stream(fast)
    for raw in stream:
        user.handle(raw)
        reference_apply(raw, plain)
    assert dict(fast.balances_view) == dict(plain.balances_view)
    assert dict(fast.positions_view) == dict(plain.positions_view)
    assert exact(sorted(fast.balances_view.values(), key=lambda b: b.asset)) == exact(
        sorted(plain.balances_view.values(), key=lambda b: b.asset)
    )
    assert exact(sorted(fast.positions_view.items())) == exact(sorted(plain.positions_view.items()))
    assert fast.stats == plain.stats
    assert exact(fast_log.events) == exact(plain_log.events)


# ---------------------------------------------------------------------- edge cases, by hand


def test_the_payload_account_update_goes_through_the_hot_path() -> None:
    raw = (PAYLOADS / "futures_ws_ACCOUNT_UPDATE.json").read_bytes()
    assert isinstance(d.decode_bare_user_event(raw), d.AccountUpdate)
    fast, plain = RecordingSink(), RecordingSink()
    user_stream(fast).handle(raw)
    reference_apply(raw, plain)
    assert exact(fast.calls) == exact(plain.calls)
    assert len(fast.calls) == 5


def position_update(**position: Any) -> bytes:
    entry = {"s": "BTCUSDT", "pa": "1", "ep": "100", "up": "2", "ps": "BOTH", **position}
    return orjson.dumps({"e": "ACCOUNT_UPDATE", "E": 7, "a": {"B": [], "P": [entry]}})


def test_an_empty_or_missing_break_even_price_is_none() -> None:
    for raw in (position_update(bep=""), position_update(bep="  "), position_update()):
        sink = RecordingSink()
        user = user_stream(sink)
        user.handle(raw)
        assert sink.calls[0][1].break_even_price is None
        assert user.counters.malformed == 0
    kind, event = d.decode_user_event(position_update(bep=""))
    assert kind is Kind.EVENT
    assert isinstance(event, d.AccountUpdate)
    assert event.a.P[0].bep is None
    assert d.positions_of(event)[0].amount == Decimal(1)


def test_a_non_numeric_money_field_makes_the_message_malformed() -> None:
    for raw in (position_update(bep="n/a"), position_update(pa="lots")):
        sink = RecordingSink()
        user = user_stream(sink)
        user.handle(raw)
        assert sink.calls == []
        assert (user.counters.malformed, user.counters.dispatch_errors) == (1, 0)
        assert d.decode_user_event(raw) == (Kind.MALFORMED, None)


def test_enveloped_and_lenient_updates_take_the_slow_path_and_still_apply() -> None:
    inner = position_update(bep="")
    sink = RecordingSink()
    user = user_stream(sink)
    user.handle(b'{"stream":"k","data":' + inner + b"}")
    user.handle(b'{"subscriptionId":0,"event":' + inner + b"}")
    assert [c[1].break_even_price for c in sink.calls] == [None, None]
    assert user.counters.account_updates == 2


def test_ignored_unknown_and_malformed_are_counted_by_the_hot_path() -> None:
    sink = RecordingSink()
    user = user_stream(sink)
    for name in (
        "futures_ws_TRADE_LITE.json",
        "futures_ws_MARGIN_CALL.json",
        "futures_ws_ALGO_UPDATE.json",
        "futures_ws_aggTrade.json",
    ):
        user.handle((PAYLOADS / name).read_bytes())
    user.handle(b"{oops")
    user.handle(b'{"e":"ACCOUNT_UPDATE","E":1}')
    user.handle(b'{"result":null,"id":1}')
    c = user.counters
    assert (c.ignored, c.unknown, c.malformed, c.control) == (3, 1, 2, 1)
    assert sink.calls == []
