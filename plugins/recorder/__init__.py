"""Built-in opt-in plugin ``recorder`` (the flight recorder) and ``tradeloop replay``.

``recorder`` is disabled unless ``plugins.recorder.enabled: true`` (entry point group
``tradeloop.plugins.opt_in``); ``replay`` (always on) adds the ``tradeloop replay`` command.
See ``docs/replay.md``.
"""

from .plugin import RecorderPlugin
from .settings import RecorderSettings

__all__ = ["RecorderPlugin", "RecorderSettings"]
