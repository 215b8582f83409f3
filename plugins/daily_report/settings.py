"""The ``plugins.daily_report`` settings block."""

from __future__ import annotations

import msgspec

from framework.setting_types import Asset


class DailyReportSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When the report runs, where it is written and which journal it reads."""

    at: str = "00:00"
    """UTC time of day ("HH:MM") at which the report of the day that just ended is written."""
    dir: str = "reports"
    """Where ``YYYY-MM-DD.md``, ``.json`` and ``.html`` go (relative to the working directory)."""
    journal: str = "journal"
    """The plugin whose ``store`` the report reads (a replacement journal keeps this working)."""
    equity_asset: Asset = "USDT"
    """The asset fees are netted in and equity is counted in."""
    catch_up: bool = True
    """At start, write yesterday's report if it is missing and the journal has that day."""
