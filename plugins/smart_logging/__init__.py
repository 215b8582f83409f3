"""Built-in plugin ``smart_logging``: rate-limited, aggregated and redacted logging.

See ``docs/logging.md``. Entry point: ``smart_logging = "plugins.smart_logging:SmartLogging"``.
"""

from .plugin import SmartLogging
from .settings import FileSinkSettings, SmartLoggingSettings

__all__ = ["FileSinkSettings", "SmartLogging", "SmartLoggingSettings"]
