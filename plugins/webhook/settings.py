"""The ``plugins.webhook`` settings block. Its secrets come from the environment or
``.secrets.yaml`` only (``settings.yaml`` refuses them, ``tradeloop check`` masks them)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from framework.setting_types import DAY, HOUR, MINUTE


class WebhookSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the daily summary is posted and how hard to try."""

    format: Literal["slack", "telegram"] = "slack"
    """``slack``: ``{"text": ...}`` to an incoming-webhook URL (Slack, Mattermost, Discord's
    ``/slack`` endpoint, ...); ``telegram``: the Bot API's ``sendMessage``."""
    url_secret: str = ""
    """Slack format: the whole webhook URL (its path is the credential). Secret:
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
