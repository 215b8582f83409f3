"""Every fault the simulator injects, against the real connector over loopback."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from framework.types import OrderRequest, StreamState
from plugins.binance import (
    IPBannedError,
    RateLimitedError,
    RateLimitWaitTooLong,
    UnknownOrderOutcomeError,
)

from .conftest import HarnessFactory
from .helpers import FAST_CONFIG, Harness, until


def limit_buy(h: Harness, qty: str = "0.010", symbol: str = "BTCUSDT") -> OrderRequest:
    """A resting LIMIT BUY a little under the bid (stays open)."""
    quote = h.sim.engine.quote(symbol)
    spec = h.sim.engine.specs[symbol]
    price = (quote.bid * Decimal("0.97") / spec.tick_size).to_integral_value() * spec.tick_size
    return OrderRequest(symbol=symbol, side="BUY", type="LIMIT", quantity=Decimal(qty), price=price)


def orders_with(h: Harness, cid: str) -> int:
    return sum(1 for o in h.sim.engine.orders.values() if o.client_order_id == cid)


async def market_buy(h: Harness, owner: str = "s1") -> None:
    await h.connector.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010")),
        owner=owner,
    )


# ---------------------------------------------------------------------------- user events


async def test_dropped_user_events_are_survived(make_harness: HarnessFactory) -> None:
    h = await make_harness(faults={"drop_user_events": 1.0})
    await market_buy(h)
    await until(lambda: h.sim.fault_counts()["drop_user_events"] >= 2)
    assert h.sink.fills == []  # nothing arrived; reconciliation (issue 6) repairs the cache
    assert h.connector.stats()["events"]["malformed"] == 0


async def test_duplicated_user_events_reach_the_sink_with_same_keys(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(faults={"duplicate_user_events": 1.0})
    await market_buy(h)
    await until(lambda: len(h.sink.fills) >= 2)
    keys = {(f.symbol, f.order_id, f.trade_id) for f in h.sink.fills}
    assert len(keys) == 1  # the same fill twice: the cache de-duplicates by this key


async def test_reordered_and_delayed_user_events_all_arrive(make_harness: HarnessFactory) -> None:
    h = await make_harness(
        user_event_delay=0.05, faults={"reorder_user_events": 0.5, "delay_user_events": 0.5}
    )
    for _ in range(3):
        await market_buy(h)
    await until(lambda: len({f.trade_id for f in h.sink.fills}) >= 3)
    assert all(o.event_time > 0 for o in h.sink.orders)  # the cache orders by event time


# ------------------------------------------------------------------------------ sockets


async def test_disconnects_reconnect_and_ask_for_resync(make_harness: HarnessFactory) -> None:
    h = await make_harness(faults={"disconnect_every": 0.3})
    await until(lambda: h.connector.stats()["stream"]["reconnects"] >= 2)
    h.sim.set_faults(disconnect_every=0.0)
    reconnected = [s for s in h.statuses if s.state is StreamState.CONNECTED and s.needs_resync]
    assert reconnected
    assert StreamState.DISCONNECTED in {s.state for s in h.statuses}
    before = len(h.ticks)
    await until(lambda: len(h.ticks) > before + 3)


async def test_stale_stream_is_detected_and_replaced(make_harness: HarnessFactory) -> None:
    config = msgspec.structs.replace(FAST_CONFIG, market_silence_after=0.4)
    h = await make_harness(config=config, faults={"stale_after": 0.3})
    await until(lambda: h.connector.stats()["stream"]["stale"] >= 1)
    h.sim.set_faults(stale_after=0.0)
    assert StreamState.STALE in h.states("market")
    await until(
        lambda: any(
            s.stream == "market" and s.state is StreamState.CONNECTED and s.needs_resync
            for s in h.statuses
        )
    )
    before = len(h.ticks)
    await until(lambda: len(h.ticks) > before + 3)


async def test_rotation_opens_the_new_socket_before_closing_the_old(
    make_harness: HarnessFactory,
) -> None:
    config = msgspec.structs.replace(FAST_CONFIG, rotate_after=0.3, rotate_overlap=0.1)
    h = await make_harness(config=config)
    await until(lambda: all(m.runner.stats.rotations >= 2 for m in h.connector.markets))
    assert h.connector.stats()["stream"]["reconnects"] == 0
    assert not any(s.needs_resync for s in h.statuses)
    assert StreamState.DISCONNECTED not in {s.state for s in h.statuses}


# ----------------------------------------------------------------------------- listenKey


async def test_listen_key_expiry_renews_and_resumes(make_harness: HarnessFactory) -> None:
    h = await make_harness(faults={"expire_listen_key_every": 0.3})
    user = h.connector.user
    assert user is not None
    await until(lambda: user.listen_key_renewals >= 1)
    h.sim.set_faults(expire_listen_key_every=0.0)
    assert h.connector.counters.listen_key_expired >= 1
    # The renewal counts when the new key exists; the reconnect with it follows.
    await until(
        lambda: any(
            s.stream == "user_data" and s.state is StreamState.CONNECTED and s.needs_resync
            for s in h.statuses
        )
    )
    await until(
        lambda: user.runner.connected.is_set() and h.sim.hub.has_user_listeners(user.listen_key)
    )
    await market_buy(h)
    await until(lambda: len(h.sink.fills) >= 1)


async def test_keepalive_of_a_deleted_key_recreates_it(harness: Harness) -> None:
    user = harness.connector.user
    assert user is not None
    old = user.listen_key
    harness.sim.delete_listen_key(None)
    await user.keepalive()  # PUT answers -1125
    assert user.listen_key
    assert user.listen_key != old
    assert user.listen_key_renewals == 1
    await until(lambda: harness.sim.hub.has_user_listeners(user.listen_key))
    await market_buy(harness)
    await until(lambda: len(harness.sink.fills) >= 1)


async def test_keepalive_extends_the_key(harness: Harness) -> None:
    user = harness.connector.user
    assert user is not None
    key = user.listen_key
    await user.keepalive()
    assert user.keepalives == 1
    assert user.listen_key == key
    assert user.listen_key_renewals == 0


# ------------------------------------------------------------------------ rate limits


async def test_429_blocks_requests_until_retry_after(make_harness: HarnessFactory) -> None:
    h = await make_harness(market_data=False, rate_limit_strikes=5)
    h.sim.set_faults(rate_limit_burst=1.0)
    with pytest.raises((RateLimitedError, RateLimitWaitTooLong)):
        await h.connector.query_order("BTCUSDT", "tl-none-1")
    governor = h.connector.rest.governor
    assert governor.stats.http_429 >= 1
    assert governor.blocked_for > 0
    sent = h.connector.rest.stats.requests
    with pytest.raises(RateLimitWaitTooLong):
        await h.connector.query_order("BTCUSDT", "tl-none-2")
    assert h.connector.rest.stats.requests == sent  # nothing was sent while blocked


async def test_418_ban_is_waited_out_and_never_hit_again(make_harness: HarnessFactory) -> None:
    h = await make_harness(market_data=False, rate_limit_strikes=0, ban_seconds=0.3)
    h.sim.set_faults(rate_limit_burst=1.0)
    # The retry waits the ban out; the burst also used up the minute's weight, so the governor
    # then refuses to send before the window rolls over (longer than max_rate_wait).
    with pytest.raises((IPBannedError, RateLimitWaitTooLong)):
        await h.connector.query_order("BTCUSDT", "tl-none-1")
    h.sim.set_faults(rate_limit_burst=0.0)
    governor = h.connector.rest.governor
    ours = governor.stats.http_418
    bans = sum(state.bans for state in h.sim.limiter._ips.values())
    assert ours >= 1
    assert bans == ours  # every 418 started a new ban: no request was sent during one
    await until(lambda: governor.blocked_for == 0)
    delay, reason = governor.delay_for(1, order=False)
    assert delay > 0
    assert "window" in reason


async def test_governor_reads_weight_and_order_headers(harness: Harness) -> None:
    await harness.connector.place_order(limit_buy(harness), owner="s1")
    gov = harness.connector.rest.governor
    assert gov.stats.last_weight > 0
    assert gov.used_weight > 0


# --------------------------------------------------------------------- REST failures


async def test_rest_errors_are_retried_for_idempotent_requests(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(market_data=False)
    h.sim.set_faults(rest_error_rate=0.5)
    snapshot = await h.connector.fetch_account_snapshot()
    h.sim.set_faults(rest_error_rate=0.0)
    assert snapshot.balances
    assert h.connector.rest.stats.retries >= 1


async def test_unknown_order_outcome_never_doubles_an_order(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(market_data=False)
    h.sim.set_faults(unknown_order_outcome_rate=0.5)
    connector = h.connector
    placed: list[str] = []
    unresolved: list[str] = []
    for _ in range(8):
        request = limit_buy(h)
        cid = connector.ids.next("s1")
        try:
            order = await connector.place_order(
                msgspec.structs.replace(request, client_order_id=cid), owner="s1"
            )
        except UnknownOrderOutcomeError:
            unresolved.append(cid)
            continue
        assert order.client_order_id == cid
        placed.append(cid)
    h.sim.set_faults(unknown_order_outcome_rate=0.0)
    counts = h.sim.fault_counts()
    assert counts["unknown_order_outcome_rate"] >= 1
    assert h.connector.orders.stats.unknown_outcomes >= 1
    for cid in placed:
        assert orders_with(h, cid) == 1
    for cid in unresolved:
        assert orders_with(h, cid) <= 1


async def test_clock_skew_resyncs_on_1021(make_harness: HarnessFactory) -> None:
    h = await make_harness(market_data=False)
    h.sim.set_faults(clock_skew_ms=20_000)
    assert await h.connector.query_order("BTCUSDT", "tl-none-1") is None
    assert h.connector.rest.stats.timestamp_resyncs == 1
    assert h.connector.rest.time.offset_ms > 15_000
    assert h.sim.fault_counts()["clock_skew_ms"] >= 1
