"""The cache's freshness: live from the stream, or the age of the newest confirmed state."""

from __future__ import annotations

from framework.cache import AccountCache
from framework.types import Freshness


def test_nothing_confirmed_before_the_stream_or_a_reconcile() -> None:
    cache = AccountCache()
    assert cache.view.freshness(100.0) == Freshness(
        live=False, degraded=False, confirmed_at=None, age=None, source=""
    )


def test_live_while_the_stream_feeds_the_cache() -> None:
    cache = AccountCache()
    cache.stream_up()
    assert cache.view.freshness(100.0) == Freshness(
        live=True, degraded=False, confirmed_at=100.0, age=0.0, source="stream"
    )


def test_down_the_age_counts_from_when_the_stream_was_last_known_good() -> None:
    cache = AccountCache()
    cache.stream_up()
    cache.stream_down(100.0)
    cache.set_degraded(True)
    fresh = cache.view.freshness(112.5)
    assert (fresh.live, fresh.degraded, fresh.source) == (False, True, "stream")
    assert (fresh.confirmed_at, fresh.age) == (100.0, 12.5)
    cache.stream_down(105.0)  # still down: the first time it went down stands
    assert cache.view.freshness(112.5).confirmed_at == 100.0


def test_a_rest_read_confirms_the_cache_as_of_its_start() -> None:
    cache = AccountCache()
    cache.stream_up()
    cache.stream_down(100.0)
    cache.set_degraded(True)
    cache.confirmed(110.0)
    cache.confirmed(104.0)  # an older read confirms nothing newer
    fresh = cache.view.freshness(113.0)
    assert (fresh.confirmed_at, fresh.age, fresh.source) == (110.0, 3.0, "rest")


def test_back_and_resynced_it_is_live_again() -> None:
    cache = AccountCache()
    cache.stream_down(100.0)
    cache.set_degraded(True)
    cache.stream_up()
    assert not cache.view.freshness(120.0).live  # connected, not resynced yet
    cache.set_degraded(False)
    assert cache.view.freshness(120.0).live
