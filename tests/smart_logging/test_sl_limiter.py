"""The rate limiter and aggregator on their own, with a manual time source."""

from __future__ import annotations

from sl_helpers import ManualTime

from plugins.smart_logging.limiter import OVERFLOW_KEY, RateLimiter

WARNING, ERROR, CRITICAL = 30, 40, 50


def limiter(clock: ManualTime, window: float = 2.0, max_keys: int = 100) -> RateLimiter[str]:
    return RateLimiter(
        window, time_source=clock, site_of=lambda r: f"site of {r}", max_keys=max_keys
    )


def test_same_key_passes_once_per_window(clock: ManualTime) -> None:
    lim = limiter(clock)
    assert lim.admit("k", WARNING, "m1", "r1") == (True, None)
    clock.advance(1.999)
    assert lim.admit("k", WARNING, "m2", "r2") == (False, None)
    assert lim.admit("other", WARNING, "x", "r") == (True, None)
    assert (lim.emitted, lim.suppressed) == (2, 1)


def test_error_and_critical_always_pass(clock: ManualTime) -> None:
    lim = limiter(clock)
    for _ in range(5):
        assert lim.admit("k", ERROR, "e", "r")[0]
        assert lim.admit("k", CRITICAL, "c", "r")[0]
    assert (lim.emitted, lim.suppressed) == (10, 0)


def test_next_record_after_the_window_closes_it_with_one_repeat(clock: ManualTime) -> None:
    lim = limiter(clock)
    lim.admit("k", WARNING, "m0", "r0")
    for i in range(1, 4):
        clock.advance(0.5)
        lim.admit("k", WARNING, f"m{i}", f"r{i}")
    clock.advance(0.5)  # 2.0 s after the first line: the window is closed
    admitted, repeat = lim.admit("k", WARNING, "m4", "r4")
    assert admitted
    assert repeat is not None
    assert (repeat.count, repeat.span, repeat.message) == (3, 1.5, "m3")
    assert repeat.site == "site of r1"  # the first suppressed record
    assert lim.aggregated_lines == 1


def test_flush_expired_folds_closed_windows_only(clock: ManualTime) -> None:
    lim = limiter(clock)
    lim.admit("a", WARNING, "a", "r")
    lim.admit("a", WARNING, "a", "r")
    clock.advance(1.0)
    lim.admit("b", WARNING, "b", "r")
    lim.admit("b", WARNING, "b", "r")
    clock.advance(1.0)
    repeats = lim.flush_expired()
    assert [(r.key, r.count) for r in repeats] == [("a", 1)]
    assert lim.pending() == 1
    assert lim.admit("a", WARNING, "a", "r") == (True, None)  # a new window opened


def test_a_window_without_repeats_writes_no_line(clock: ManualTime) -> None:
    lim = limiter(clock)
    lim.admit("k", WARNING, "m", "r")
    clock.advance(5)
    assert lim.flush_expired() == []
    assert lim.aggregated_lines == 0


def test_close_returns_every_pending_count_and_then_lets_all_through(clock: ManualTime) -> None:
    lim = limiter(clock)
    for key in ("a", "b"):
        for _ in range(1 + 10):
            lim.admit(key, WARNING, key, "r")
    repeats = lim.close()
    assert sorted((r.key, r.count) for r in repeats) == [("a", 10), ("b", 10)]
    assert sum(r.count for r in repeats) == lim.suppressed
    assert lim.pending() == 0
    assert lim.admit("a", WARNING, "a", "r") == (True, None)
    assert lim.admit("a", WARNING, "a", "r") == (True, None)


def test_per_key_counters_and_the_overflow_bucket(clock: ManualTime) -> None:
    lim = limiter(clock, max_keys=2)
    for key in ("a", "b", "c", "d"):
        lim.admit(key, WARNING, key, "r")
        lim.admit(key, WARNING, key, "r")
    clock.advance(2)
    lim.flush_expired()
    stats = lim.per_key()
    assert set(stats) == {"a", "b", OVERFLOW_KEY}
    assert (stats["a"].emitted, stats["a"].suppressed, stats["a"].aggregated_lines) == (1, 1, 1)
    assert (stats[OVERFLOW_KEY].emitted, stats[OVERFLOW_KEY].suppressed) == (2, 2)
    assert stats[OVERFLOW_KEY].aggregated_lines == 2
