"""The built-in ``reconciliation`` plugin: checks the account cache against the exchange's REST
snapshot, repairs drift, and reports it (docs/reconciliation.md)."""

from .config import ReconciliationSettings
from .plugin import ReconciliationPlugin

__all__ = ["ReconciliationPlugin", "ReconciliationSettings"]
