"""stdlib logging (aiohttp, websockets, asyncio, dynaconf) goes through the same pipeline."""

from __future__ import annotations

import json
import logging
from typing import Any

from sl_helpers import ManualTime


async def test_stdlib_records_are_routed_and_rate_limited(console: Any, bot_run: Any) -> None:
    run = await bot_run({"level": "DEBUG"})  # DEBUG: the console shows each line's call site
    client = logging.getLogger("aiohttp.client")
    for i in range(1000):
        client.warning("retrying request %d", i)
    logging.getLogger("asyncio").error("Task exception was never retrieved")
    await run.stop()
    lines = [line for line in console.getvalue().splitlines() if "retrying request" in line]
    assert len(lines) == 2
    assert lines[0].endswith(" - retrying request 0")
    assert lines[1].endswith(" - retrying request 999 (repeated 999 times in 0 s)")
    assert (
        " | WARNING  | test_sl_stdlib:test_stdlib_records_are_routed_and_rate_limited:" in lines[0]
    )
    assert "Task exception was never retrieved" in console.getvalue()
    assert run.plugin.stats()["suppressed"] == 999


async def test_stdlib_levels_follow_the_settings(console: Any, bot_run: Any) -> None:
    run = await bot_run({"level": "INFO", "levels": {"websockets": "DEBUG", "dynaconf": "ERROR"}})
    logging.getLogger("websockets.client").debug("> TEXT frame")
    logging.getLogger("aiohttp.access").debug("aiohttp debug")
    logging.getLogger("dynaconf").warning("dynaconf warning")
    logging.getLogger("asyncio").info("asyncio info")
    await run.stop()
    text = console.getvalue()
    assert "> TEXT frame" in text
    assert "aiohttp debug" not in text
    assert "dynaconf warning" not in text
    assert "asyncio info" in text


async def test_stdlib_json_names_the_stdlib_logger(
    console: Any, bot_run: Any, clock: ManualTime
) -> None:
    run = await bot_run({"format": "json"})
    logging.getLogger("websockets.client").warning("connection closed")
    await run.stop()
    [record] = [
        json.loads(line) for line in console.getvalue().splitlines() if "connection closed" in line
    ]
    assert record["stdlib_logger"] == "websockets.client"
    assert record["level"] == "WARNING"


async def test_stdlib_setup_is_restored_at_stop(bot_run: Any) -> None:
    root = logging.getLogger()
    before = (root.handlers[:], root.level, logging.getLogger("websockets").level)
    run = await bot_run({"levels": {"websockets": "DEBUG"}})
    assert len(root.handlers) == 1
    assert logging.getLogger("websockets").level == logging.DEBUG
    await run.stop()
    assert (root.handlers, root.level, logging.getLogger("websockets").level) == before
