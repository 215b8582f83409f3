"""Built-in opt-in plugin ``http``: a dashboard, ``/metrics``, ``/health``, ``/ready``, an API.

Disabled unless ``plugins.http.enabled: true``. See ``docs/operations.md``. Entry point (group
``tradeloop.plugins.opt_in``): ``http = "plugins.http:HttpPlugin"``.
"""

from .plugin import HttpPlugin
from .settings import HttpSettings

__all__ = ["HttpPlugin", "HttpSettings"]
