"""The ``plugins.status`` settings block."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from framework.setting_types import DAY, HOUR, Asset

Mode = Literal["auto", "live", "log", "off"]


class StatusSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How the status is shown: a live terminal display, periodic log lines, or not at all."""

    mode: Mode = "auto"
    """``auto``: ``live`` when stderr or stdout is a terminal, ``log`` otherwise; ``live``: the
    display refreshing in place (even if the stream is not a terminal); ``log``: one log line
    every ``log_interval`` seconds and one at stop; ``off``: figures kept, nothing shown."""
    interval: Annotated[float, msgspec.Meta(ge=0.01, le=HOUR)] = 1.0
    """Seconds between two refreshes of the live display."""
    log_interval: Annotated[float, msgspec.Meta(ge=0.1, le=DAY)] = 60.0
    """Seconds between two status log lines (mode ``log``)."""
    max_rows: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 20
    """Positions and balances shown at most; the rest are counted as ``+N more``."""
    equity_asset: Asset = "USDT"
    """Equity is this asset's wallet balance plus the unrealized PnL of every position."""
