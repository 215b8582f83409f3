"""Console and JSON output, the file sink, levels, attribution and aggregation lines."""

from __future__ import annotations

import io
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger
from sl_helpers import ManualTime, say

from framework.types import Tick


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def listing(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_console_is_human_readable_by_default(console: Any, bot_run: Any) -> None:
    run = await bot_run()
    logger.bind(plugin="reconciliation").info("cache matches the exchange")
    await run.stop()
    [line] = lines_with(console.getvalue(), "cache matches")
    # no module:function:line below DEBUG: a trader reads the message, not the source
    assert line.endswith(" | INFO     [reconciliation] - cache matches the exchange")
    assert "test_sl_output" not in line


async def test_console_shows_where_a_line_came_from_at_debug(console: Any, bot_run: Any) -> None:
    run = await bot_run({"level": "DEBUG"})
    logger.bind(plugin="reconciliation").info("cache matches the exchange")
    await run.stop()
    [line] = lines_with(console.getvalue(), "cache matches")
    site = "test_sl_output:test_console_shows_where_a_line_came_from_at_debug:"
    assert f" | INFO     | {site}" in line
    assert line.endswith(" [reconciliation] - cache matches the exchange")


async def test_aggregated_line_when_the_window_closes(
    console: Any, bot_run: Any, clock: ManualTime
) -> None:
    run = await bot_run({"rate_limit_window": 2.0, "level": "DEBUG"})  # call sites shown
    for i in range(4):
        logger.bind(plugin="binance").warning("reconnecting {}", i)
        clock.advance(0.5)
    assert run.plugin.flush_expired() == 1
    run.plugin.drain()
    out = lines_with(console.getvalue(), "reconnecting")
    assert out[0].endswith("[binance] - reconnecting 0")
    assert out[1].endswith("[binance] - reconnecting 3 (repeated 3 times in 1.5 s)")
    assert " | WARNING  | test_sl_output:test_aggregated_line_when_the_window_closes:" in out[1]
    site = out[0].split(" | ")[2].split(" - ")[0]
    assert out[1].split(" | ")[2].startswith(site)  # the same call site
    await run.stop()
    assert len(lines_with(console.getvalue(), "reconnecting")) == 2


async def test_a_closed_window_is_written_before_the_next_line(
    console: Any, bot_run: Any, clock: ManualTime
) -> None:
    run = await bot_run()
    for i in range(3):
        logger.warning("slow tick {}", i)
        clock.advance(1.0)  # the third call arrives 2 s after the first one
    await run.stop()
    out = [line.split(" - ", 1)[1] for line in lines_with(console.getvalue(), "slow tick")]
    assert out == ["slow tick 0", "slow tick 1 (repeated once in 1 s)", "slow tick 2"]


async def test_the_flush_task_writes_closed_windows(
    console: Any, bot_run: Any, clock: ManualTime
) -> None:
    run = await bot_run({"rate_limit_window": 0.1})
    for _ in range(2):
        logger.warning("stale stream")
    clock.advance(0.2)
    for _ in range(200):  # the task wakes every 50 ms; give it up to 10 s
        if run.plugin.limiter.aggregated_lines:
            break
        await run.bot.ctx.clock.sleep(0.05)
    assert run.plugin.limiter.aggregated_lines == 1
    await run.stop()
    assert lines_with(console.getvalue(), "stale stream (repeated once in 0 s)")


async def test_json_lines_carry_plugin_and_strategy(console: Any, bot_run: Any) -> None:
    run = await bot_run({"format": "json"}, strategies=[{"id": "s1", "use": "sl_helpers:Chatty"}])
    tick = Tick(
        symbol="BTCUSDT",
        bid=Decimal(1),
        bid_qty=Decimal(1),
        ask=Decimal(2),
        ask_qty=Decimal(1),
        event_time=int(run.bot.ctx.clock.time() * 1000),
    )
    run.bot.ctx.hooks.on_tick(tick)
    logger.bind(plugin="reconciliation", run=7).info("reconciled")
    logger.bind(plugin="strategy:s2").info("bound strategy")
    await run.stop()
    records = {r["message"]: r for r in json_lines(console.getvalue())}
    tick_line = records["strategy saw a tick"]
    assert tick_line["plugin"] == "strategy:s1"
    assert tick_line["strategy"] == "s1"
    assert tick_line["logger"] == "sl_helpers"
    assert tick_line["function"] == "on_tick"
    assert tick_line["level"] == "WARNING"
    assert tick_line["exception"] is None
    assert tick_line["time"].endswith("+00:00")
    assert records["reconciled"]["plugin"] == "reconciliation"
    assert records["reconciled"]["strategy"] is None
    assert records["reconciled"]["extra"] == {"run": 7}
    assert records["bound strategy"]["strategy"] == "s2"
    started = next(m for m in records if m.startswith("tradeloop started"))
    assert records[started]["plugin"] is None


async def test_json_aggregated_line_has_the_count(
    console: Any, bot_run: Any, clock: ManualTime
) -> None:
    run = await bot_run({"format": "json"})
    for _ in range(5):
        logger.warning("queue full")
        clock.advance(0.1)
    await run.stop()
    repeat = json_lines(console.getvalue())[-1]
    assert repeat["message"] == "queue full (repeated 4 times in 0.4 s)"
    assert repeat["repeated"] == 4
    assert repeat["span_s"] == 0.4


async def test_levels_default_and_per_module(console: Any, bot_run: Any) -> None:
    run = await bot_run({"level": "INFO", "levels": {"sl_helpers": "DEBUG", "noisy": "ERROR"}})
    logger.debug("debug from the test module")
    say("DEBUG", "debug from sl_helpers")
    logger.patch(lambda r: r.update(name="noisy.sub")).warning("warning from noisy.sub")
    logger.patch(lambda r: r.update(name="noisy.sub")).error("error from noisy.sub")
    await run.stop()
    text = console.getvalue()
    assert "debug from the test module" not in text
    assert "debug from sl_helpers" in text
    assert "warning from noisy.sub" not in text
    assert "error from noisy.sub" in text


async def test_file_sink_rotates_and_keeps_retention(
    console: Any, bot_run: Any, tmp_path: Path
) -> None:
    path = tmp_path / "bot.log"
    block = {
        "console": "off",
        "file": {"path": str(path), "rotation": 400, "retention": 2, "format": "json"},
    }
    run = await bot_run(block)
    for i in range(30):
        logger.error("order {} rejected: insufficient margin", i)  # errors always pass
    await run.stop()
    files = listing(tmp_path)
    assert len(files) == 3  # the current file and two rotated ones
    assert all(f.stat().st_size < 1000 for f in files)
    written = [r["message"] for f in files for r in json_lines(f.read_text(encoding="utf-8"))]
    assert "order 29 rejected: insufficient margin" in written
    assert console.getvalue() == ""


async def test_logging_never_waits_for_the_sink(monkeypatch: Any, bot_run: Any) -> None:
    class StuckStream(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.release = threading.Event()

        def write(self, text: str) -> int:
            self.release.wait(10)
            return super().write(text)

    stream = StuckStream()
    monkeypatch.setattr("sys.stderr", stream)
    run = await bot_run()
    for i in range(50):
        logger.warning("line {} while the sink is stuck", i)  # one line, 49 suppressed
        logger.error("error {} while the sink is stuck", i)  # errors always pass
    assert not stream.release.is_set()
    assert "while the sink is stuck" not in stream.getvalue()
    stream.release.set()
    await run.stop()
    # 50 errors, the first warning and its aggregated line
    assert len(lines_with(stream.getvalue(), "while the sink is stuck")) == 52
