"""A suppressed call is decided before loguru builds the record: nothing is formatted.

Each test installs the plugin directly (console to stderr, a manual clock for its windows) and
logs with an argument that counts how often it is formatted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger
from sl_helpers import ManualTime

from plugins.smart_logging import SmartLogging, SmartLoggingSettings


class Counted:
    """An argument that counts how often it is turned into text."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.formatted = 0

    def __format__(self, spec: str) -> str:
        self.formatted += 1
        return f"v{self.value}"


@pytest.fixture
def plugin(clock: ManualTime) -> Iterator[SmartLogging]:
    # DEBUG, so console lines name their call site (tested below); nothing here logs below WARNING
    settings = SmartLoggingSettings(rate_limit_window=5.0, level="DEBUG")
    installed = SmartLogging(settings, time_source=clock)
    installed.install()
    yield installed
    installed.uninstall()


def warn(arg: Counted) -> None:
    logger.warning("price {} outside the band", arg)


def test_a_suppressed_call_formats_nothing_and_is_counted(
    plugin: SmartLogging, capsys: pytest.CaptureFixture[str], clock: ManualTime
) -> None:
    args = [Counted(i) for i in range(50)]
    for arg in args:
        warn(arg)
    assert [a.formatted for a in args] == [1] + [0] * 49  # only the written line
    assert (plugin.limiter.suppressed, plugin.limiter.emitted) == (49, 1)
    clock.advance(6)
    assert plugin.flush_expired() == 1
    plugin.drain()
    lines = capsys.readouterr().err.splitlines()
    assert "price v0 outside the band" in lines[0]
    # The aggregated line: the last suppressed message, formatted once, at the call site.
    assert "price v49 outside the band (repeated 49 times in 0 s)" in lines[1]
    assert ":warn:" in lines[1]
    assert args[-1].formatted == 1


def test_keys_still_split_by_bound_plugin_and_log_key(
    plugin: SmartLogging, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        for stream in ("market", "user_data"):
            logger.bind(plugin="binance", log_key=stream).info("stream {} connected", stream)
        with logger.contextualize(plugin="other"):
            logger.info("stream {} connected", "ctx")
    plugin.drain()
    written = capsys.readouterr().err
    assert written.count("stream market connected") == 1
    assert written.count("stream user_data connected") == 1
    assert written.count("stream ctx connected") == 1
    assert plugin.limiter.suppressed == 6


def test_a_sink_added_by_other_code_still_sees_every_record(plugin: SmartLogging) -> None:
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(m.record["message"]), level="WARNING")
    try:
        args = [Counted(i) for i in range(5)]
        for arg in args:
            warn(arg)
    finally:
        logger.remove(sink)
    assert seen == [f"price v{i} outside the band" for i in range(5)]
    assert plugin.limiter.suppressed == 4


def test_written_records_keep_their_call_site(
    plugin: SmartLogging, capsys: pytest.CaptureFixture[str]
) -> None:
    logger.opt(depth=0).warning("from the test")
    logger.error("errors always pass")
    logger.error("errors always pass")
    plugin.drain()
    err = capsys.readouterr().err
    assert "test_written_records_keep_their_call_site" in err
    assert err.count("errors always pass") == 2


def test_uninstall_gives_loguru_its_own_log_back(plugin: SmartLogging) -> None:
    from loguru._logger import Logger

    from plugins.smart_logging import gate

    assert Logger._log is not gate._original_log  # type: ignore[attr-defined]
    plugin.uninstall()
    assert Logger._log is gate._original_log  # type: ignore[attr-defined]


def test_the_core_guard_patcher_does_not_turn_the_gate_off(
    plugin: SmartLogging, capsys: pytest.CaptureFixture[str]
) -> None:
    from framework.log_guard import guard_logging

    guard_logging()  # the core's redacting patcher, installed by every Bot
    args = [Counted(i) for i in range(10)]
    for arg in args:
        warn(arg)
    assert [a.formatted for a in args] == [1] + [0] * 9
    assert plugin.limiter.suppressed == 9
