"""Signing, key masking, client order ids, the rate governor, errors: no sockets."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from framework.settings import ExchangeSettings
from framework.types import Order, OrderRequest
from plugins.binance import BinanceConfig, resolve_endpoints
from plugins.binance.errors import (
    IPBannedError,
    ListenKeyError,
    OrderNotFoundError,
    RateLimitedError,
    ServerError,
    TimestampError,
    api_error,
)
from plugins.binance.governor import RateGovernor
from plugins.binance.ids import ALLOWED, ClientOrderIds, base36
from plugins.binance.orders import fmt_decimal, mismatch
from plugins.binance.signing import HmacSigner, mask_key, signed_query


def test_hmac_matches_the_documented_vectors() -> None:
    spot = HmacSigner("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
    assert (
        spot.sign(
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
            "&recvWindow=5000&timestamp=1499827319559"
        )
        == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    futures = HmacSigner("2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9")
    query = signed_query(
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "quantity": 1,
            "price": 9000,
            "timeInForce": "GTC",
            "recvWindow": 5000,
            "timestamp": 1591702613943,
        },
        futures,
    )
    assert query.endswith(
        "&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    )


def test_secrets_never_show() -> None:
    assert "s3cr3tvalue" not in repr(HmacSigner("s3cr3tvalue"))
    assert mask_key("ABCDEFGHIJKLMNOP") == "ABCD...(16 chars)"
    assert mask_key("") == "<none>"


def test_endpoints_follow_settings() -> None:
    cfg = BinanceConfig()
    live = resolve_endpoints(ExchangeSettings(name="binance_futures", testnet=False), cfg)
    assert (live.rest_url, live.stream_url, live.routed) == (
        "https://fapi.binance.com",
        "wss://fstream.binance.com",
        True,
    )
    assert live.user_url("k") == "wss://fstream.binance.com/private/ws?listenKey=k"
    assert live.market_url(["btcusdt@bookTicker"]) == (
        "wss://fstream.binance.com/public/stream?streams=btcusdt@bookTicker"
    )
    test = resolve_endpoints(ExchangeSettings(name="binance_futures", testnet=True), cfg)
    assert test.rest_url == "https://demo-fapi.binance.com"
    assert not test.routed
    assert test.user_url("k") == "wss://fstream.binancefuture.com/ws/k"
    custom = resolve_endpoints(
        ExchangeSettings(rest_url="http://127.0.0.1:9/", stream_url="ws://127.0.0.1:9"), cfg
    )
    assert (custom.rest_url, custom.stream_url) == ("http://127.0.0.1:9", "ws://127.0.0.1:9")


def test_client_order_ids_carry_owner_run_and_counter() -> None:
    now = [1_764_000_000_123]
    ids = ClientOrderIds("tl", now_ms=lambda: now[0])
    assert ids.next("meanrev1") == f"tl-meanrev1-{base36(now[0])}-1"
    now[0] += 5  # the run is fixed by the first id, not by the clock of each id
    assert ids.next("meanrev1") == f"tl-meanrev1-{base36(1_764_000_000_123)}-2"
    assert ids.next("other").endswith("-1")
    assert ids.run == 1_764_000_000_123
    assert ids.parse(ids.next("meanrev1")) == ("meanrev1", 1_764_000_000_123, 3)
    assert ids.owner_of(ids.next("meanrev1")) == "meanrev1"
    assert ids.owner_of("tl-meanrev1-42") == "meanrev1"  # the earlier form, still open somewhere
    for foreign in ("autoclose-123", "xx-meanrev1-mi0-1", "tl--mi0-1", "tl-a-b-c-d-e", "tl-a"):
        assert ids.owner_of(foreign) is None
        assert ids.parse(foreign) is None
    assert ids.parse("tl-s1-+1-1") is None  # int() would take these; an id of ours never has them
    assert ids.parse("tl-s1-1_0-1") is None


def test_long_owner_ids_are_shortened_the_same_way_in_every_run() -> None:
    owner = "a-very-long-strategy-instance-name-that-goes-on"
    first = ClientOrderIds("tl", now_ms=lambda: 36**8 - 1).next(owner)  # 8 run digits
    assert ALLOWED.match(first)  # 36 characters at most
    later = ClientOrderIds("tl", now_ms=lambda: 36**9 - 1)  # 9 run digits: year 5000+
    second = later.next(owner)
    assert ALLOWED.match(second)  # 36 characters at most
    assert first.split("-")[1] == second.split("-")[1]
    assert later.owner_of(first) == owner
    widest = ClientOrderIds("abcdef", now_ms=lambda: 36**9 - 1).next(owner)
    assert ALLOWED.match(widest)  # 36 characters at most


def test_a_new_run_differs_from_every_earlier_one_without_saved_state() -> None:
    now = [1_764_000_000_000]
    earlier = ClientOrderIds("tl", now_ms=lambda: now[0])
    used = {earlier.next("s1") for _ in range(50)}
    now[0] += 1  # one millisecond later
    assert used.isdisjoint(
        ClientOrderIds("tl", now_ms=lambda: now[0]).next("s1") for _ in range(50)
    )
    # a clock behind an earlier run's: the ids seen on the exchange move the run past it
    behind = ClientOrderIds("tl", now_ms=lambda: now[0] - 60_000)
    for cid in used:
        behind.observe(cid)
    assert behind.next("s1") not in used
    assert (behind.run or 0) > (earlier.run or 0)
    # another process on the very same millisecond: its ids seen move the counter past them
    same = ClientOrderIds("tl", now_ms=lambda: earlier.run or 0)
    same.next("s1")
    same.observe(max(used, key=lambda c: int(c.rsplit("-", 1)[1], 36)))
    assert same.next("s1") not in used


def test_the_prefix_is_checked() -> None:
    for bad in ("", "toolong", "a-b", "a b"):
        with pytest.raises(ValueError, match="prefix"):
            ClientOrderIds(bad)


def test_an_order_is_taken_for_the_one_sent_only_if_everything_matches() -> None:
    sent = OrderRequest(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=Decimal("0.010"),
        price=Decimal("60000"),
        client_order_id="tl-s1-x-1",
    )
    same = Order(
        symbol="BTCUSDT",
        order_id=7,
        client_order_id="tl-s1-x-1",
        side="BUY",
        type="LIMIT",
        status="NEW",
        price=Decimal("60000.0"),
        orig_qty=Decimal("0.01"),
        executed_qty=Decimal(0),
        event_time=5000,
    )
    assert mismatch(sent, same, created_ms=5000, not_before_ms=4000) == ""
    changes: dict[str, object] = {
        "symbol": "ETHUSDT",
        "side": "SELL",
        "type": "MARKET",
        "orig_qty": Decimal("0.02"),
        "price": Decimal("59999"),
        "time_in_force": "IOC",
        "reduce_only": True,
    }
    for name, value in changes.items():
        assert mismatch(sent, msgspec.structs.replace(same, **{name: value}), 5000, 4000)
    assert "before it was sent" in mismatch(sent, same, created_ms=3999, not_before_ms=4000)


def test_decimal_formatting() -> None:

    assert fmt_decimal(Decimal("1E+1")) == "10"
    assert fmt_decimal(Decimal("0.0100")) == "0.01"
    assert fmt_decimal(Decimal("65000.00")) == "65000"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_040.0  # 20 s into a minute

    def __call__(self) -> float:
        return self.now


def test_governor_paces_then_stops_before_the_limit() -> None:
    clock = FakeTime()
    gov = RateGovernor(BinanceConfig(weight_limit_1m=100), server_time=clock, monotonic=clock)
    assert gov.delay_for(1, order=False) == (0.0, "")
    gov.observe({"X-MBX-USED-WEIGHT-1M": "85"})
    delay, reason = gov.delay_for(1, order=False)
    assert 0 < delay < 40
    assert "pacing" in reason
    gov.observe({"x-mbx-used-weight-1m": "96"})
    delay, reason = gov.delay_for(1, order=False)
    assert delay == pytest.approx(40.05)
    assert "window" in reason
    clock.now += 41  # the next minute
    assert gov.delay_for(1, order=False) == (0.0, "")
    gov.observe({"X-MBX-USED-WEIGHT-1M": "-1"})  # testnet's "unknown"
    assert gov.used_weight == 0


def test_governor_counts_orders_and_blocks_after_429_and_418() -> None:
    clock = FakeTime()
    gov = RateGovernor(BinanceConfig(order_limit_10s=10), server_time=clock, monotonic=clock)
    gov.observe({"X-MBX-ORDER-COUNT-10S": "10"})
    assert gov.delay_for(0, order=True)[0] > 0
    assert gov.delay_for(1, order=False)[0] == 0
    assert gov.on_rate_limited(429, 7.0, "Too many requests") == 7.0
    assert gov.delay_for(1, order=False)[0] == pytest.approx(7.0)
    until_ms = int((clock.now + 120) * 1000)
    wait = gov.on_rate_limited(
        418, None, f"Way too much request weight used; IP banned until {until_ms}."
    )
    assert wait == pytest.approx(120.0)
    assert gov.blocked_for == pytest.approx(120.0)
    assert (gov.stats.http_429, gov.stats.http_418) == (1, 1)


async def test_governor_refuses_long_waits() -> None:
    from plugins.binance import RateLimitWaitTooLong

    clock = FakeTime()
    gov = RateGovernor(BinanceConfig(max_rate_wait=1.0), server_time=clock, monotonic=clock)
    gov.on_rate_limited(429, 30.0, "")
    with pytest.raises(RateLimitWaitTooLong) as info:
        await gov.acquire(1, order=False, request="GET /x")
    assert "GET /x" in str(info.value)
    assert gov.stats.refused == 1


@pytest.mark.parametrize(
    ("status", "code", "msg", "cls"),
    [
        (418, -1003, "banned", IPBannedError),
        (429, -1003, "too many", RateLimitedError),
        (400, -1021, "Timestamp outside", TimestampError),
        (400, -1125, "This listenKey does not exist.", ListenKeyError),
        (400, -2013, "Order does not exist.", OrderNotFoundError),
        (400, -2011, "Unknown order sent.", OrderNotFoundError),
        (503, -1001, "Internal error", ServerError),
        (503, 0, "Unknown error, please check your request or try again later.", ServerError),
    ],
)
def test_errors_are_typed(status: int, code: int, msg: str, cls: type) -> None:
    err = api_error(status, code, msg, request="POST /fapi/v1/order")
    assert type(err) is cls
    assert (err.status, err.code, err.msg) == (status, code, msg)
    assert "signature" not in str(err)
    assert "POST /fapi/v1/order" in str(err)
