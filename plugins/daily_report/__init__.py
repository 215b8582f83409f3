"""Built-in plugin ``daily_report``: each UTC day's report from the journal.

See ``docs/reporting.md``. Entry point: ``daily_report = "plugins.daily_report:DailyReportPlugin"``.
"""

from .build import build_report, day_before, day_bounds, summary
from .files import DamagedReportError, read_report, write_report
from .model import Report
from .plugin import DailyReportPlugin, JournalSource
from .settings import DailyReportSettings

__all__ = [
    "DailyReportPlugin",
    "DailyReportSettings",
    "DamagedReportError",
    "JournalSource",
    "Report",
    "build_report",
    "day_before",
    "day_bounds",
    "read_report",
    "summary",
    "write_report",
]
