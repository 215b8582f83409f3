"""Floods stay bounded, and no suppressed count is ever lost (shutdown flushes them)."""

from __future__ import annotations

import math
import re
from typing import Any

from loguru import logger
from sl_helpers import ManualTime

REPEATED = re.compile(r"\(repeated (\d+) times in [0-9.e+-]+ s\)$")


def repeat_counts(text: str, needle: str) -> list[int]:
    return [
        int(m.group(1))
        for line in text.splitlines()
        if needle in line and (m := REPEATED.search(line))
    ]


async def test_100k_identical_warnings_in_one_window_give_two_lines(
    console: Any, bot_run: Any
) -> None:
    run = await bot_run()
    emitted_at_start = run.plugin.stats()["emitted"]  # the bot's own startup lines
    for i in range(100_000):
        logger.warning("price {} outside the band", i)
    stats = run.plugin.stats()
    assert stats["emitted"] - emitted_at_start == 1
    assert (stats["suppressed"], stats["pending"]) == (99_999, 99_999)
    await run.stop()
    lines = [line for line in console.getvalue().splitlines() if "outside the band" in line]
    assert len(lines) == 2
    assert lines[0].endswith(" - price 0 outside the band")
    assert lines[1].endswith(" - price 99999 outside the band (repeated 99999 times in 0 s)")


async def test_a_long_flood_is_bounded_by_its_duration(
    console: Any, bot_run: Any, clock: ManualTime
) -> None:
    run = await bot_run({"rate_limit_window": 2.0})
    calls, step = 20_000, 0.0005  # 10 s of flood
    for _ in range(calls):
        logger.warning("order book gap")
        clock.advance(step)
    await run.stop()
    text = console.getvalue()
    lines = [line for line in text.splitlines() if "order book gap" in line]
    windows = math.ceil(calls * step / 2.0)
    assert len(lines) <= 2 * windows
    assert len(repeat_counts(text, "order book gap")) == windows
    first_lines = len(lines) - windows
    assert first_lines + sum(repeat_counts(text, "order book gap")) == calls


async def test_nothing_is_lost_at_shutdown(console: Any, bot_run: Any, clock: ManualTime) -> None:
    run = await bot_run()
    sent = {"alpha": 0, "beta": 0}
    for i in range(300):
        logger.bind(plugin="p1").warning("alpha {}", i)
        sent["alpha"] += 1
        if i % 3 == 0:
            logger.info("beta {}", i)
            sent["beta"] += 1
        clock.advance(0.01)  # 3 s in all: one window closed mid-way, one still open at stop
    summary = await run.stop()
    text = console.getvalue()
    for name, count in sent.items():
        firsts = [
            line
            for line in text.splitlines()
            if f" - {name} " in line and not REPEATED.search(line)
        ]
        assert len(firsts) + sum(repeat_counts(text, f" - {name} ")) == count
    stats = run.plugin.stats()
    assert stats["pending"] == 0
    assert stats["suppressed"] == sum(sum(repeat_counts(text, f" - {name} ")) for name in sent)
    assert summary["logging"]["suppressed"] == stats["suppressed"]


async def test_errors_are_never_suppressed(console: Any, bot_run: Any) -> None:
    run = await bot_run()
    for i in range(100):
        logger.error("order {} rejected", i)
        logger.critical("margin call {}", i)
    await run.stop()
    text = console.getvalue()
    assert len([line for line in text.splitlines() if "rejected" in line]) == 100
    assert len([line for line in text.splitlines() if "margin call" in line]) == 100
    assert "repeated" not in text
