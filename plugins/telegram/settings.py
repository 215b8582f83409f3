"""The ``plugins.telegram`` settings block. The bot token comes from the environment or
``.secrets.yaml`` only (``settings.yaml`` refuses it, ``tradeloop check`` masks it)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from framework.setting_types import HOUR, MINUTE

ChatId = Annotated[int, msgspec.Meta(ge=-(2**53), le=2**53)]
"""A Telegram chat id (a user's is positive, a group's negative; up to 52 bits)."""


class TelegramSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Which bot to poll, whom to obey, and how hard to retry."""

    bot_token: str = ""
    """The bot's token from @BotFather. Secret: ``TRADELOOP_PLUGINS__TELEGRAM__BOT_TOKEN`` or
    ``.secrets.yaml``."""
    allowed_chat_ids: Annotated[list[ChatId], msgspec.Meta(max_length=1000)] = msgspec.field(
        default_factory=list
    )
    """The chats whose messages are commands (your own chat with the bot, a group's id).
    Messages from any other chat are ignored, logged and counted. At least one."""
    api_url: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "https://api.telegram.org"
    """The Bot API base URL."""
    poll_timeout: Annotated[int, msgspec.Meta(ge=0, le=50)] = 25
    """Seconds each ``getUpdates`` long poll may wait for a message."""
    request_timeout: Annotated[float, msgspec.Meta(ge=1, le=5 * MINUTE)] = 10.0
    """Seconds a request may take beyond the long poll's own wait."""
    max_message_age: Annotated[float, msgspec.Meta(ge=1, le=HOUR)] = 120.0
    """Messages older than this (sent while the bot was down) are ignored, never run: a
    ``stop`` or ``flatten`` from an hour ago is not what anyone wants now."""
    retry_base: Annotated[float, msgspec.Meta(ge=0.001, le=HOUR)] = 1.0
    retry_cap: Annotated[float, msgspec.Meta(ge=0.001, le=HOUR)] = 60.0
    """After a failed poll the next waits base, 2 x base, 4 x base ... up to the cap."""
