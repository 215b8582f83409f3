"""``POST /api/control``: the operator's commands over HTTP, behind a bearer token.

Mounted only when ``plugins.http.control_token`` is set (from the environment or
``.secrets.yaml``); without it the path does not exist (404). The token is compared in
constant time; a missing or wrong one is answered 401 and counted
(``tradeloop_http_unauthorized_total``). The command itself runs in the core's command layer
(``framework.remote``): this module only authenticates, reads a small JSON body and maps the
reply to a status code.
"""

from __future__ import annotations

import asyncio
import hmac
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from aiohttp import web
from loguru import logger
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from framework import BotContext
from framework.remote import Caller, Reply

from . import api

PATH = "/api/control"
READ_TIMEOUT = 5.0
"""Seconds a client has to send its (small) request body."""
JSON = "application/json"
SOURCE = "http"


class ControlStats:
    """What the control endpoint counted: refused requests, commands by outcome."""

    def __init__(self) -> None:
        self.unauthorized = 0
        self.commands: Counter[tuple[str, str]] = Counter()  # (command, ok|refused|malformed)


class ControlEndpoint:
    """Authenticates ``POST /api/control`` and hands the command to the core's layer."""

    def __init__(
        self, token: str, label: str, ctx: Callable[[], BotContext], stats: ControlStats
    ) -> None:
        self._token = token.encode()
        self.label = label
        self._ctx = ctx
        self.stats = stats

    def mount(self, app: web.Application) -> None:
        """Add the route (POST only: anything else is 405)."""
        app.router.add_post(PATH, self.handle)
        self._ctx().remote_control().mask(self._token.decode())

    def authorized(self, request: web.Request) -> bool:
        """True when the request carries ``Authorization: Bearer <the token>``."""
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            given = ""
        # compare_digest takes as long for any wrong token of a given length
        return hmac.compare_digest(given.strip().encode(), self._token)

    async def handle(self, request: web.Request) -> web.Response:
        """Check the token, read ``{"command": "..."}``, run it, answer its reply."""
        if not self.authorized(request):
            self.stats.unauthorized += 1
            logger.bind(log_key="http_unauthorized").warning(
                "http: {} {} from {} refused: missing or wrong bearer token",
                request.method,
                request.path,
                request.remote,
            )
            return web.Response(
                status=401,
                body=api.encode({"error": "Unauthorized", "status": 401}),
                content_type=JSON,
                headers={"WWW-Authenticate": 'Bearer realm="tradeloop"'},
            )
        line = await _command_line(request)
        if isinstance(line, web.Response):
            self.stats.commands[("", "malformed")] += 1
            return line
        reply = await self._ctx().remote_control().execute(line, Caller(SOURCE, self.label))
        outcome = "ok" if reply.ok else "malformed" if reply.malformed else "refused"
        self.stats.commands[(reply.command, outcome)] += 1
        return _answer(reply)


async def _command_line(request: web.Request) -> str | web.Response:
    """The ``command`` of a JSON body, or the 400/413 response that explains what is wrong."""
    if request.content_type != JSON:
        return _bad(400, 'send JSON: {"command": "status"} with Content-Type: application/json')
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            raw = await request.read()
    except TimeoutError:
        return _bad(408, f"request body not received within {READ_TIMEOUT:g} s")
    except web.HTTPRequestEntityTooLarge:
        return _bad(413, "request body too large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _bad(400, "the body is not valid JSON")
    command = body.get("command") if isinstance(body, dict) else None
    if not isinstance(command, str):
        return _bad(400, 'the body must be a JSON object with a "command" string')
    return command


def _bad(status: int, message: str) -> web.Response:
    return web.Response(
        status=status, body=api.encode({"error": message, "status": status}), content_type=JSON
    )


def _answer(reply: Reply) -> web.Response:
    status = 200 if reply.ok else 400 if reply.malformed else 409
    body: dict[str, Any] = {
        "ok": reply.ok,
        "command": reply.command,
        "text": reply.text,
        "data": dict(reply.data),
    }
    if not reply.ok:
        body["error"] = reply.text
    return web.Response(status=status, body=api.encode(body), content_type=JSON)


class ControlCollector(Collector):
    """The control endpoint's and the Telegram bot's counters for ``/metrics``."""

    def __init__(self, stats: ControlStats, ctx: Callable[[], BotContext | None]) -> None:
        self.stats = stats
        self._ctx = ctx

    def collect(self) -> Iterator[Metric]:
        """``tradeloop_http_unauthorized_total``, ``tradeloop_remote_commands_total`` and
        ``tradeloop_telegram_ignored_updates_total`` (when the telegram plugin runs)."""
        unauthorized = CounterMetricFamily(
            "tradeloop_http_unauthorized_total",
            "control requests refused for a missing or wrong bearer token",
        )
        unauthorized.add_metric([], self.stats.unauthorized)
        yield unauthorized
        commands = CounterMetricFamily(
            "tradeloop_remote_commands_total",
            "operator commands by front end, command and outcome",
            labels=["source", "command", "outcome"],
        )
        for (command, outcome), count in sorted(self.stats.commands.items()):
            commands.add_metric([SOURCE, command, outcome], count)
        ctx = self._ctx()
        telegram = getattr(ctx.plugin("telegram"), "stats", None) if ctx is not None else None
        if telegram is not None:
            for (command, outcome), count in sorted(telegram.commands.items()):
                commands.add_metric(["telegram", command, outcome], count)
            ignored = CounterMetricFamily(
                "tradeloop_telegram_ignored_updates_total",
                "Telegram messages ignored: from a chat not in allowed_chat_ids, or not text",
            )
            ignored.add_metric([], telegram.ignored)
            yield ignored
        yield commands
