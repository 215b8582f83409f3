"""Built-in plugin ``status``: the bot's state live on a terminal, or as periodic log lines.

See ``docs/status.md``. Entry point: ``status = "plugins.status:StatusPlugin"``.
"""

from .display import LiveDisplay, resolve_mode
from .model import (
    BalanceRow,
    PositionRow,
    RateMeter,
    ReconcileInfo,
    StatusModel,
    StatusSnapshot,
    StreamRow,
)
from .plugin import StatusPlugin
from .render import render_line, render_panel
from .settings import StatusSettings

__all__ = [
    "BalanceRow",
    "LiveDisplay",
    "PositionRow",
    "RateMeter",
    "ReconcileInfo",
    "StatusModel",
    "StatusPlugin",
    "StatusSettings",
    "StatusSnapshot",
    "StreamRow",
    "render_line",
    "render_panel",
    "resolve_mode",
]
