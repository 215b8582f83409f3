"""The ``webhook`` plugin (opt-in): posts daily report summaries and pushes alerts to Slack,
Telegram or any JSON endpoint.

Alerts (``plugins.webhook.alerts``) come from the hooks that already say what happened
(``on_reconcile_result``: drift; ``on_stream_state``: a stream down beyond its bound;
``on_plugin_error``: a plugin disabled, a strategy paused by its error) and from ``on_alert``
(the exchange refusing an order, a rate-limit ban). They are rate limited and aggregated per
kind (``alerts.AlertBook``), masked of every configured secret, queued and delivered by one
background task with retries and backoff: no hook ever waits on the network."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
from loguru import logger

from framework import (
    Alert,
    BotContext,
    DailyReport,
    PluginError,
    ReconcileResult,
    SettingsError,
    StreamStatus,
    hookimpl,
)
from framework.redact import Redactor
from framework.settings import secret_values

from .alerts import AlertBook, Outgoing, StreamWatch, drift_alert, plugin_alert
from .message import slack_body, summary_text, telegram_body
from .sender import Delivery, Poster, safe_url
from .settings import WebhookSettings

NAME = "webhook"
STOP_DRAIN = 2.0
"""Seconds the stop may spend delivering the alerts still queued."""


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
        self.book = AlertBook(self.config.alert_window)
        self.streams = StreamWatch(self.config.stream_down_after)
        self.alerts_sent: list[Outgoing] = []
        self.alerts_failed = 0
        self.alerts_dropped = 0
        self._queue: asyncio.Queue[Outgoing] | None = None
        self._ctx: BotContext | None = None
        self._redact = Redactor(self._own_secrets())

    def _check(self) -> None:
        c = self.config
        env = "TRADELOOP_PLUGINS__WEBHOOK__"
        if c.format in ("slack", "json") and not c.url_secret:
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
        return self._lifespan(ctx)

    def _own_secrets(self) -> list[str]:
        return [v for v in (self.config.url_secret, self.config.bot_token) if v]

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        self._ctx = ctx
        self._redact = Redactor([*self._own_secrets(), *secret_values(ctx.settings.as_dict())])
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
            logger.info("webhook: messages go to {} ({})", safe_url(self.url), c.format)
            if c.alerts:
                self._queue = asyncio.Queue()
                ctx.spawn(self._send_alerts(), name="alerts", owner=NAME)
                ctx.spawn(self._watch(ctx), name="alert-watch", owner=NAME)
            try:
                yield
            finally:
                await self._drain_alerts()
                self._poster = None
                self._queue = None

    async def _drain_alerts(self) -> None:
        """At stop: one attempt for each alert still queued, within ``STOP_DRAIN`` seconds
        (a kill-switch or stream alert raised just before a stop still goes out)."""
        queue, poster = self._queue, self._poster
        if queue is None or poster is None or queue.empty():
            return
        last = Poster(
            poster.session, timeout=poster.timeout, retries=0, backoff_base=1.0, backoff_cap=1.0
        )
        try:
            async with asyncio.timeout(STOP_DRAIN):
                while not queue.empty():
                    await self._post_alert(last, queue.get_nowait())
        except TimeoutError:
            self.alerts_dropped += queue.qsize()
            logger.bind(plugin=NAME).error(
                "webhook: {} alerts not delivered before the stop", queue.qsize()
            )

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
        if self.config.format == "json":
            return {
                "source": "tradeloop",
                "kind": "daily_report",
                "day": str(summary.get("day", "")),
                "text": summary_text(summary),
            }
        return slack_body(summary)

    def alert_body(self, out: Outgoing) -> dict[str, Any]:
        """The JSON body of one alert message for the configured format."""
        if self.config.format == "telegram":
            return {
                "chat_id": self.config.chat_id,
                "text": out.text,
                "disable_web_page_preview": True,
            }
        if self.config.format == "json":
            return out.json_body()
        return {"text": out.text}

    @hookimpl
    def on_daily_report(self, ctx: BotContext, report: DailyReport) -> None:
        """Start the delivery in a task of its own and return at once."""
        if not self.config.daily_reports:
            return
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

    # ------------------------------------------------------------------------ alerts

    def alert(self, alert: Alert) -> None:
        """Take one alert: send it (queued) now, or count it for its kind's digest."""
        if self._queue is None:
            return
        out = self.book.add(alert)
        if out is not None:
            self._enqueue(out)

    def _enqueue(self, out: Outgoing) -> None:
        queue = self._queue
        if queue is None:
            return
        clean = Outgoing(
            out.kind,
            self._redact(out.subject),
            self._redact(out.text),
            self._redact(out.message),
            out.count,
            out.at,
        )
        if queue.qsize() >= self.config.alert_queue:
            queue.get_nowait()  # the oldest goes: the newest says most about now
            self.alerts_dropped += 1
        queue.put_nowait(clean)

    async def _watch(self, ctx: BotContext) -> None:
        """Streams down beyond their bound; digests of windows that ended."""
        while True:
            await ctx.clock.sleep(self.config.check_interval)
            now = ctx.clock.time()
            for alert in self.streams.overdue(now):
                self.alert(alert)
            for out in self.book.due(now):
                self._enqueue(out)

    async def _send_alerts(self) -> None:
        """The one task that delivers alerts, in order, each with the poster's retries."""
        while True:
            queue, poster = self._queue, self._poster
            if queue is None or poster is None:
                return
            await self._post_alert(poster, await queue.get())

    async def _post_alert(self, poster: Poster, out: Outgoing) -> None:
        try:
            delivery = await poster.post(self.url, self.alert_body(out))
        except Exception as exc:  # noqa: BLE001 - an exception text could quote the URL
            delivery = Delivery(False, 0, None, type(exc).__name__)
        log = logger.bind(plugin=NAME)
        if delivery.ok:
            self.alerts_sent.append(out)
            log.info("webhook: alert {} delivered ({} attempts)", out.kind, delivery.attempts)
        else:
            self.alerts_failed += 1
            log.error(
                "webhook: alert {} not delivered to {} after {} attempts ({})",
                out.kind,
                safe_url(self.url),
                delivery.attempts,
                delivery.problem,
            )

    @hookimpl
    def on_alert(self, alert: Alert) -> None:
        """An alert the core or a plugin raised (order refused, rate-limit ban)."""
        self.alert(alert)

    # optionalhook: the hookspec comes with the kill switch (killswitch work); until it is
    # merged this implementation is simply never called.
    @hookimpl(optionalhook=True)
    def on_kill_switch(self, ctx: BotContext, trip: Any) -> None:
        """The kill switch tripped (``framework.types.KillSwitchTrip``): alert, with what the
        bot did about it."""
        describe = getattr(trip, "describe", None)
        what = describe() if callable(describe) else str(getattr(trip, "limit", "limit"))
        actions = "; ".join(str(a) for a in getattr(trip, "actions", ()))
        self.alert(
            Alert(
                kind="kill_switch",
                subject=str(getattr(trip, "limit", "")),
                message=f"{what}" + (f"; done: {actions}" if actions else ""),
                at=ctx.clock.time(),
            )
        )

    @hookimpl
    def on_reconcile_result(self, ctx: BotContext, result: ReconcileResult) -> None:
        """Drift found: alert."""
        alert = drift_alert(result, ctx.clock.time())
        if alert is not None:
            self.alert(alert)

    @hookimpl
    def on_stream_state(self, status: StreamStatus) -> None:
        """Follow the streams (alerted once down beyond ``stream_down_after``)."""
        self.streams.update(status)

    @hookimpl
    def on_plugin_error(self, ctx: BotContext, error: PluginError) -> None:
        """A plugin disabled, or a strategy paused by its error: alert."""
        alert = plugin_alert(error, ctx.clock.time())
        if alert is not None:
            self.alert(alert)

    @hookimpl
    def summarize_run(self) -> Mapping[str, Any]:
        """The ``webhook`` section of the run summary."""
        return {
            "webhook": {
                "delivered": sum(1 for d in self.deliveries if d.ok),
                "failed": sum(1 for d in self.deliveries if not d.ok),
                "attempts": sum(d.attempts for d in self.deliveries),
                "alerts_received": self.book.received,
                "alerts_aggregated": self.book.suppressed,
                "alerts_sent": len(self.alerts_sent),
                "alerts_failed": self.alerts_failed,
                "alerts_dropped": self.alerts_dropped,
            }
        }
