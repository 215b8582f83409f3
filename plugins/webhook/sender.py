"""POST a JSON body with retries and capped, jittered backoff; never reveals the URL."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from loguru import logger

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def safe_url(url: str) -> str:
    """``scheme://host:port/…``: what a log line may say about a secret URL."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


@dataclass
class Delivery:
    """The outcome of one message: delivered or not, after how many attempts, last problem."""

    ok: bool
    attempts: int
    status: int | None
    problem: str


class Poster:
    """Sends with ``retries`` extra attempts on timeouts, transport errors, 429 and 5xx."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: float,
        retries: int,
        backoff_base: float,
        backoff_cap: float,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.rng = rng or random.Random()

    def backoff(self, attempt: int) -> float:
        """Wait before attempt ``attempt + 1``: exponential, capped, half of it jittered."""
        cap = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(cap / 2, cap)

    async def post(self, url: str, body: dict[str, Any]) -> Delivery:
        """POST ``body`` as JSON until it is accepted, refused for good, or retries run out."""
        where = safe_url(url)
        status: int | None = None
        problem = ""
        for attempt in range(1, self.retries + 2):
            wait: float | None = None
            try:
                async with self.session.post(
                    url, json=body, timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as resp:
                    status = resp.status
                    data = await resp.read()
                    if 200 <= status < 300 and _accepted(data):
                        return Delivery(True, attempt, status, "")
                    problem = f"HTTP {status}"
                    if status not in RETRYABLE_STATUS:
                        break
                    wait = _retry_after(resp.headers.get("Retry-After"), data)
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = None
                problem = type(exc).__name__  # never str(exc): it may quote the URL
            if attempt > self.retries:
                break
            delay = min(self.backoff_cap, wait) if wait is not None else self.backoff(attempt)
            logger.bind(plugin="webhook").warning(
                "webhook {} attempt {} failed ({}); retry in {:.2f} s",
                where,
                attempt,
                problem,
                delay,
            )
            await asyncio.sleep(delay)
        return Delivery(False, attempt, status, problem)


def _accepted(data: bytes) -> bool:
    """Telegram answers 200 with ``{"ok": false}`` on some refusals; Slack answers ``ok``."""
    return b'"ok":false' not in data.replace(b" ", b"")


def _retry_after(header: str | None, data: bytes) -> float | None:
    """Seconds from ``Retry-After`` or Telegram's ``parameters.retry_after``."""
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            return None
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, dict):
        value = (parsed.get("parameters") or {}).get("retry_after")
        if isinstance(value, (int, float)):
            return float(value)
    return None
