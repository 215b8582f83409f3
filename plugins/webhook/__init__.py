"""Built-in opt-in plugin ``webhook``: daily report summaries to Slack or Telegram.

Disabled unless ``plugins.webhook.enabled: true``. See ``docs/reporting.md``. Entry point (group
``tradeloop.plugins.opt_in``): ``webhook = "plugins.webhook:WebhookPlugin"``.
"""

from .message import slack_body, summary_text, telegram_body
from .plugin import WebhookPlugin
from .sender import Delivery, Poster, safe_url
from .settings import WebhookSettings

__all__ = [
    "Delivery",
    "Poster",
    "WebhookPlugin",
    "WebhookSettings",
    "safe_url",
    "slack_body",
    "summary_text",
    "telegram_body",
]
