"""The ``plugins.webhook`` settings block. Its secrets come from the environment or
``.secrets.yaml`` only (``settings.yaml`` refuses them, ``tradeloop check`` masks them)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from framework.setting_types import DAY, HOUR, MINUTE, Seconds


class WebhookSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where daily summaries and alerts are posted and how hard to try."""

    format: Literal["slack", "telegram", "json"] = "slack"
    """``slack``: ``{"text": ...}`` to an incoming-webhook URL (Slack, Mattermost, Discord's
    ``/slack`` endpoint, ...); ``telegram``: the Bot API's ``sendMessage``; ``json``: a
    generic JSON object (``kind``, ``subject``, ``message``, ``count``, ``at``, ``text``) to any
    URL (Alertmanager-style receivers, your own service)."""
    url_secret: str = ""
    """Slack and JSON formats: the whole webhook URL (its path may be the credential). Secret:
    ``TRADELOOP_PLUGINS__WEBHOOK__URL_SECRET`` or ``.secrets.yaml``."""
    bot_token: str = ""
    """Telegram format: the bot token. Secret: ``TRADELOOP_PLUGINS__WEBHOOK__BOT_TOKEN``."""
    chat_id: str = ""
    """Telegram format: the chat to post to."""
    telegram_api: str = "https://api.telegram.org"
    """Telegram format: the Bot API base URL."""
    timeout: Annotated[float, msgspec.Meta(ge=0.1, le=5 * MINUTE)] = 10.0
    """Seconds per attempt."""
    retries: Annotated[int, msgspec.Meta(ge=0, le=100)] = 5
    """Extra attempts after a failure that may pass (timeouts, 429, 5xx); other 4xx: none."""
    backoff_base: Annotated[float, msgspec.Meta(ge=0.001, le=HOUR)] = 1.0
    backoff_cap: Annotated[float, msgspec.Meta(ge=0.001, le=DAY)] = 60.0
    """Waits grow base, 2 x base, 4 x base ... up to the cap (with jitter); a 429's
    ``Retry-After`` is honoured up to the cap."""
    daily_reports: bool = True
    """Post each daily report's summary."""
    alerts: bool = True
    """Push alerts: drift found, a stream down beyond ``stream_down_after``, a plugin disabled,
    a strategy paused by an error, the exchange refusing an order, a rate-limit ban."""
    alert_window: Annotated[float, msgspec.Meta(ge=1, le=DAY)] = 300.0
    """Per alert kind: the first alert is sent at once, the next ones within this many seconds
    are counted and sent as one digest when the window ends ("stream down: 12 alerts in
    5 min")."""
    stream_down_after: Seconds = 60.0
    """A stream disconnected or stale this long is alerted (once per outage)."""
    alert_queue: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 100
    """Alerts waiting for delivery at most; beyond it the oldest is dropped and counted."""
    check_interval: Annotated[float, msgspec.Meta(ge=0.05, le=MINUTE)] = 1.0
    """Seconds between checks for streams down too long and windows that ended."""
