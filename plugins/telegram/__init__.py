"""Built-in opt-in plugin ``telegram``: the operator's commands from a Telegram chat.

Disabled unless ``plugins.telegram.enabled: true``. See ``docs/operations.md``. Entry point
(group ``tradeloop.plugins.opt_in``): ``telegram = "plugins.telegram:TelegramPlugin"``.
"""

from .plugin import TelegramPlugin, TelegramStats
from .settings import TelegramSettings

__all__ = ["TelegramPlugin", "TelegramSettings", "TelegramStats"]
