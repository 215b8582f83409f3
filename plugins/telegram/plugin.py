"""The ``telegram`` plugin (opt-in): long-polls the Bot API and runs the operator's commands.

Each text message from an allowed chat is handed to the core's command layer
(``ctx.remote_control()``) and its reply sent back with ``sendMessage``. The plugin implements
no command: it only authenticates (by chat id) and carries text. It never logs a URL (the
token is part of it) nor an exception's text (it could quote the URL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import orjson
from loguru import logger

from framework import BotContext, SettingsError, cancel_and_wait, hookimpl
from framework.remote import Caller

from .settings import TelegramSettings

NAME = "telegram"
MAX_TEXT = 4000
"""Telegram refuses messages over 4096 characters; longer replies are cut."""
MAX_RESPONSE = 1_048_576
"""Largest Bot API answer read (bytes)."""
STOP_FLUSH = 3.0
"""Seconds the stop may spend sending the last replies and acknowledging updates."""


class BotApiError(Exception):
    """The Bot API answered ``ok: false`` (its description never holds the token)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"HTTP {status}: {description[:200]}")
        self.status = status


class TelegramStats:
    """Counters: polls, messages ignored (chat not allowed, not text, too old), commands."""

    def __init__(self) -> None:
        self.polls = 0
        self.poll_errors = 0
        self.ignored = 0
        self.commands: Counter[tuple[str, str]] = Counter()  # (command, ok|refused|malformed)
        self.sent = 0
        self.send_failures = 0

    def summary(self) -> dict[str, Any]:
        """The ``telegram`` section of the run summary."""
        return {
            "polls": self.polls,
            "poll_errors": self.poll_errors,
            "ignored": self.ignored,
            "commands": sum(self.commands.values()),
            "sent": self.sent,
            "send_failures": self.send_failures,
        }


class TelegramPlugin:
    """Runs commands sent by allowed chats; see ``docs/operations.md#telegram``."""

    def __init__(self, config: TelegramSettings | None = None) -> None:
        self.config = config or TelegramSettings()
        c = self.config
        env = "TRADELOOP_PLUGINS__TELEGRAM__"
        if not c.bot_token:
            raise SettingsError(
                f"plugins.{NAME}.bot_token", "", f"the bot token, from {env}BOT_TOKEN"
            )
        if not c.allowed_chat_ids:
            raise SettingsError(
                f"plugins.{NAME}.allowed_chat_ids", [], "at least one chat id allowed to command"
            )
        self.allowed = frozenset(c.allowed_chat_ids)
        self.stats = TelegramStats()
        self.offset = 0  # the next update id wanted (Telegram forgets those before it)
        self._acked = 0
        self._outbox: list[tuple[int, str]] = []
        self._sending: asyncio.Future[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    @hookimpl
    def declare_settings() -> type[TelegramSettings]:
        """The ``plugins.telegram`` block."""
        return TelegramSettings

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Poll while the bot runs; on stop send the last replies and acknowledge updates."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            self._session = session
            ctx.remote_control().mask(self.config.bot_token)
            task = ctx.spawn(self._poll(ctx), name="poll", owner=NAME)
            logger.info("telegram: taking commands from chats {}", sorted(self.allowed))
            try:
                yield
            finally:
                await cancel_and_wait(task)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(STOP_FLUSH):
                        if self._sending is not None:  # a reply the cancel left on its way
                            await self._sending
                        await self._flush()
                        await self._acknowledge()
                self._session = None

    def _url(self, method: str) -> str:
        """A Bot API method's URL (secret: it holds the token; never log it)."""
        return f"{self.config.api_url.rstrip('/')}/bot{self.config.bot_token}/{method}"

    async def _call(self, method: str, body: Mapping[str, Any], wait: float) -> Any:
        """POST ``body`` to a Bot API method; its ``result``, or ``BotApiError``."""
        session = self._session
        if session is None:
            raise RuntimeError("telegram: not started")
        timeout = aiohttp.ClientTimeout(total=wait + self.config.request_timeout)
        async with session.post(self._url(method), json=dict(body), timeout=timeout) as resp:
            raw = await resp.content.read(MAX_RESPONSE + 1)
            if len(raw) > MAX_RESPONSE:
                raise BotApiError(resp.status, "answer too large")
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise BotApiError(resp.status, "answer is not JSON") from None
        if not isinstance(data, dict) or data.get("ok") is not True:
            description = data.get("description") if isinstance(data, dict) else None
            raise BotApiError(resp.status, str(description or "not ok"))
        return data.get("result")

    # ------------------------------------------------------------------------ polling

    async def _poll(self, ctx: BotContext) -> None:
        failures = 0
        while True:
            try:
                updates = await self._call(
                    "getUpdates",
                    {
                        "offset": self.offset,
                        "timeout": self.config.poll_timeout,
                        "allowed_updates": ["message"],
                    },
                    wait=self.config.poll_timeout,
                )
                self.stats.polls += 1
                failures = 0
            except (aiohttp.ClientError, TimeoutError, BotApiError) as exc:
                self.stats.poll_errors += 1
                failures += 1
                delay = min(self.config.retry_cap, self.config.retry_base * 2 ** (failures - 1))
                problem = str(exc) if isinstance(exc, BotApiError) else type(exc).__name__
                logger.bind(plugin=NAME, log_key="telegram_poll").warning(
                    "telegram: getUpdates failed ({}); retry {} in {:.1f} s",
                    problem,
                    failures,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            if isinstance(updates, list):
                for update in updates:
                    await self._handle(ctx, update)
            await self._flush()

    async def _handle(self, ctx: BotContext, update: Any) -> None:
        """One update: run it if it is a fresh text message from an allowed chat."""
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            self.stats.ignored += 1
            return
        self.offset = max(self.offset, update["update_id"] + 1)
        message = update.get("message")
        chat = message.get("chat") if isinstance(message, dict) else None
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        if not isinstance(chat_id, int) or chat_id not in self.allowed:
            self.stats.ignored += 1
            logger.bind(plugin=NAME, log_key="telegram_ignored").warning(
                "telegram: ignored a message from chat {} (not in allowed_chat_ids)", chat_id
            )
            return
        assert isinstance(message, dict)
        text = message.get("text")
        sent_at = message.get("date")
        if not isinstance(text, str):
            self.stats.ignored += 1
            return
        age = ctx.clock.time() - sent_at if isinstance(sent_at, (int, float)) else 0.0
        if age > self.config.max_message_age:
            self.stats.ignored += 1
            logger.bind(plugin=NAME).warning(
                "telegram: ignored a {:.0f} s old message from chat {} (max_message_age {:g} s)",
                age,
                chat_id,
                self.config.max_message_age,
            )
            self._outbox.append((chat_id, f"ignored: sent {age:.0f} s ago, while I was away"))
            return
        reply = await ctx.remote_control().execute(text, Caller(NAME, f"chat:{chat_id}"))
        outcome = "ok" if reply.ok else "malformed" if reply.malformed else "refused"
        self.stats.commands[(reply.command, outcome)] += 1
        self._outbox.append((chat_id, reply.text if reply.ok else f"refused: {reply.text}"))

    async def _flush(self) -> None:
        """Send the queued replies, oldest first; one that fails is logged and dropped.

        Each send is shielded: a stop that cancels the poll task lets the reply on its way
        finish (the stop awaits it) instead of sending it twice or not at all.
        """
        while self._outbox:
            chat_id, text = self._outbox.pop(0)
            self._sending = asyncio.ensure_future(self._send(chat_id, text))
            await asyncio.shield(self._sending)
            self._sending = None

    async def _send(self, chat_id: int, text: str) -> None:
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        body = {"chat_id": chat_id, "text": text, "disable_web_page_preview": True}
        try:
            await self._call("sendMessage", body, wait=0)
            self.stats.sent += 1
        except (aiohttp.ClientError, TimeoutError, BotApiError) as exc:
            self.stats.send_failures += 1
            problem = str(exc) if isinstance(exc, BotApiError) else type(exc).__name__
            logger.bind(plugin=NAME).error(
                "telegram: reply to chat {} not sent ({})", chat_id, problem
            )

    async def _acknowledge(self) -> None:
        """Tell Telegram the updates handled so far are done, so the next start does not
        see them again (a ``stop`` would stop it at once)."""
        if self.offset <= self._acked:
            return
        try:
            await self._call("getUpdates", {"offset": self.offset, "timeout": 0}, wait=0)
            self._acked = self.offset
        except (aiohttp.ClientError, TimeoutError, BotApiError) as exc:
            problem = str(exc) if isinstance(exc, BotApiError) else type(exc).__name__
            logger.bind(plugin=NAME).warning("telegram: updates not acknowledged ({})", problem)

    @hookimpl
    def summarize_run(self) -> Mapping[str, Any]:
        """The ``telegram`` section of the run summary."""
        return {"telegram": self.stats.summary()}
