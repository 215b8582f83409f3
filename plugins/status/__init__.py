"""Built-in plugin ``status``: the bot's state live on a terminal, or as periodic log lines.

See ``docs/status.md``. Entry point: ``status = "plugins.status:StatusPlugin"``.
"""

from typing import TYPE_CHECKING

from framework.lazy import lazy_exports

from .model import (
    BalanceRow,
    PositionRow,
    RateMeter,
    ReconcileInfo,
    StatusModel,
    StatusSnapshot,
    StrategyRow,
    StreamRow,
)
from .plugin import StatusPlugin
from .settings import StatusSettings

if TYPE_CHECKING:
    from .display import LiveDisplay, resolve_mode
    from .render import render_line, render_panel

# rich is imported on first use, not with the CLI
__getattr__ = lazy_exports(
    __name__,
    {
        "LiveDisplay": "display",
        "resolve_mode": "display",
        "render_line": "render",
        "render_panel": "render",
    },
)

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
    "StrategyRow",
    "StreamRow",
    "render_line",
    "render_panel",
    "resolve_mode",
]
