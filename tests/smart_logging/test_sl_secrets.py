"""Secrets never reach a sink: not in messages, exception messages, tracebacks or extras."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from sl_helpers import API_KEY, API_SECRET

SIGNATURE = "3c8a6e1f0b7d4c2a9e5f1b8d7c6a4e2f0b9d8c7a6e5f4d3c2b1a0f9e8d7c6b5a"
LISTEN_KEY = "Xk2Lm9Pq4Rs7Tu1Vw3Yz5Ab8Cd0Ef6Gh2Ij4Kl7Mn9Op1Qr3St5Uv8Wx0Yz2Ab4Cd"
CUSTOM = "ACCT-77881234"
SECRETS = (API_KEY, API_SECRET, SIGNATURE, LISTEN_KEY, CUSTOM)


class ExchangeError(Exception):
    pass


def place_order() -> None:
    url = f"https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&signature={SIGNATURE}"
    try:
        raise KeyError(API_SECRET)
    except KeyError as cause:
        raise ExchangeError(f"400 for {url} with X-MBX-APIKEY: {API_KEY}") from cause


def log_everything() -> None:
    logger.warning("signing with key {} and secret {}", API_KEY, API_SECRET)
    logger.info("user stream wss://fstream.binance.com/ws/{}", LISTEN_KEY)
    logger.info("renewed listenKey={}", LISTEN_KEY)
    logger.info("account {}", CUSTOM)
    logger.bind(headers={"X-MBX-APIKEY": API_KEY}).warning("request with bound headers")
    try:
        place_order()
    except ExchangeError:
        logger.exception("order failed")
    try:
        place_order()
    except ExchangeError:
        logging.getLogger("aiohttp.client").error("stdlib failure", exc_info=True)


@pytest.mark.parametrize(
    ("console_format", "file_format"), [("console", "json"), ("json", "console")]
)
async def test_secrets_are_masked_in_every_sink(
    console: Any, bot_run: Any, tmp_path: Path, console_format: str, file_format: str
) -> None:
    path = tmp_path / "bot.log"
    run = await bot_run(
        {
            "format": console_format,
            "file": {"path": str(path), "format": file_format},
            "redact_patterns": [r"ACCT-\d+"],
        }
    )
    log_everything()
    await run.stop()
    outputs = {"console": console.getvalue(), "file": path.read_text(encoding="utf-8")}
    for sink, text in outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret[:8]}... printed in the {sink} sink"
        assert "signing with key ***" in text
        assert "ExchangeError" in text
        assert "Traceback (most recent call last)" in text
        assert "The above exception was the direct cause" in text
        assert "signature=***" in text
        assert "stdlib failure" in text


async def test_repeat_lines_are_masked_too(console: Any, bot_run: Any) -> None:
    run = await bot_run()
    for _ in range(3):
        logger.warning("retrying with secret {}", API_SECRET)
    await run.stop()
    text = console.getvalue()
    assert API_SECRET not in text
    assert "retrying with secret *** (repeated 2 times" in text
