"""The ``webhook`` plugin (opt-in): posts each daily report's summary to Slack or Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
from loguru import logger

from framework import BotContext, DailyReport, SettingsError, hookimpl

from .message import slack_body, telegram_body
from .sender import Delivery, Poster, safe_url
from .settings import WebhookSettings

NAME = "webhook"


class WebhookPlugin:
    """Delivers ``on_daily_report`` summaries in a background task, never blocking the loop."""

    def __init__(
        self, config: WebhookSettings | None = None, *, rng: random.Random | None = None
    ) -> None:
        self.config = config or WebhookSettings()
        self._check()
        self._rng = rng
        self._poster: Poster | None = None
        self.tasks: set[asyncio.Task[Delivery]] = set()
        self.deliveries: list[Delivery] = []

    def _check(self) -> None:
        c = self.config
        env = "TRADELOOP_PLUGINS__WEBHOOK__"
        if c.format == "slack" and not c.url_secret:
            raise SettingsError(
                f"plugins.{NAME}.url_secret",
                "",
                f"the webhook URL, from {env}URL_SECRET or .secrets.yaml",
            )
        if c.format == "telegram":
            if not c.bot_token:
                raise SettingsError(
                    f"plugins.{NAME}.bot_token", "", f"a bot token, from {env}BOT_TOKEN"
                )
            if not c.chat_id:
                raise SettingsError(f"plugins.{NAME}.chat_id", "", "the chat id to post to")

    @staticmethod
    @hookimpl
    def declare_settings() -> type[WebhookSettings]:
        """The ``plugins.webhook`` block."""
        return WebhookSettings

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """One HTTP session for the bot's lifetime."""
        return self._lifespan()

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            c = self.config
            self._poster = Poster(
                session,
                timeout=c.timeout,
                retries=c.retries,
                backoff_base=c.backoff_base,
                backoff_cap=c.backoff_cap,
                rng=self._rng,
            )
            logger.info("webhook: daily reports go to {} ({})", safe_url(self.url), c.format)
            try:
                yield
            finally:
                self._poster = None

    @property
    def url(self) -> str:
        """Where messages go (secret: never log it, use ``safe_url``)."""
        c = self.config
        if c.format == "telegram":
            return f"{c.telegram_api.rstrip('/')}/bot{c.bot_token}/sendMessage"
        return c.url_secret

    def body(self, summary: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body for the configured format."""
        if self.config.format == "telegram":
            return telegram_body(summary, self.config.chat_id)
        return slack_body(summary)

    @hookimpl
    def on_daily_report(self, ctx: BotContext, report: DailyReport) -> None:
        """Start the delivery in a task of its own and return at once."""
        task = ctx.spawn(self.deliver(report), name=f"post {report.day}", owner=NAME)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def deliver(self, report: DailyReport) -> Delivery:
        """Post one report's summary; failures are logged without the URL, never raised."""
        poster = self._poster
        if poster is None:
            delivery = Delivery(False, 0, None, "not started")
        else:
            try:
                delivery = await poster.post(self.url, self.body(report.summary))
            except Exception as exc:  # noqa: BLE001 - an exception text could quote the URL
                delivery = Delivery(False, 0, None, type(exc).__name__)
        self.deliveries.append(delivery)
        log = logger.bind(plugin=NAME)
        if delivery.ok:
            log.info("webhook: report {} delivered to {}", report.day, safe_url(self.url))
        else:
            log.error(
                "webhook: report {} not delivered to {} after {} attempts ({})",
                report.day,
                safe_url(self.url),
                delivery.attempts,
                delivery.problem,
            )
        return delivery

    @hookimpl
    def summarize_run(self) -> Mapping[str, Any]:
        """The ``webhook`` section of the run summary."""
        return {
            "webhook": {
                "delivered": sum(1 for d in self.deliveries if d.ok),
                "failed": sum(1 for d in self.deliveries if not d.ok),
                "attempts": sum(d.attempts for d in self.deliveries),
            }
        }
