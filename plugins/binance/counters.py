"""Event counters shared by the streams (the run summary's ``events`` section)."""

from __future__ import annotations

from dataclasses import dataclass, field

from loguru import logger

from .decode import Kind


@dataclass(slots=True)
class EventCounters:
    """What arrived on the streams, by kind."""

    ticks: int = 0
    account_updates: int = 0
    order_updates: int = 0
    fills: int = 0
    listen_key_expired: int = 0
    ignored: int = 0
    control: int = 0
    malformed: int = 0
    unknown: int = 0
    dispatch_errors: int = 0
    rejected: int = 0
    rejected_by: dict[str, int] = field(default_factory=dict)

    def reject(self, what: str, problem: str) -> None:
        """Count a message or REST entry dropped whole for an insane value (``checks``).

        ``what`` names its kind (``user-data ACCOUNT_UPDATE``, ``GET /fapi/v3/balance``); the
        first of each kind is logged with what was wrong, then the 10th, 100th, ...
        """
        self.rejected += 1
        count = self.rejected_by.get(what, 0) + 1
        self.rejected_by[what] = count
        if should_log(count):
            logger.bind(log_key=f"rejected:{what}").warning(
                "dropped {} #{} (an insane value, nothing of it applied): {}",
                what,
                count,
                problem,
            )

    def count_unhandled(self, kind: Kind, data: bytes, stream: str) -> None:
        """Count a message that carried no event (ignored, control, unknown or malformed)."""
        if kind is Kind.IGNORED:
            self.ignored += 1
        elif kind is Kind.CONTROL:
            self.control += 1
        elif kind is Kind.UNKNOWN:
            self.unknown += 1
        else:
            self.malformed += 1
            if should_log(self.malformed):
                logger.warning(
                    "malformed {} message #{} ({} bytes): {!r}",
                    stream,
                    self.malformed,
                    len(data),
                    data[:120],
                )

    def summary(self) -> dict[str, int | dict[str, int]]:
        """The ``events`` section of the run summary."""
        return {
            "ticks": self.ticks,
            "account_updates": self.account_updates,
            "order_updates": self.order_updates,
            "fills": self.fills,
            "listen_key_expired": self.listen_key_expired,
            "ignored": self.ignored,
            "malformed": self.malformed,
            "unknown": self.unknown,
            "dispatch_errors": self.dispatch_errors,
            "rejected": self.rejected,
            "rejected_by": dict(self.rejected_by),
        }


def should_log(count: int) -> bool:
    """Log the 1st, 10th, 100th, ... occurrence (then every 10,000th), not every one."""
    return count in (1, 10, 100, 1000) or count % 10000 == 0
