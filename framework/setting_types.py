"""Bounded value types shared by every settings struct (the core's and the plugins').

Every number in a settings struct has a lower and an upper bound, so that a value that would
only fail once the bot runs (``inf``, ``1e-9`` seconds, a queue of 10**30 slots) is refused
when the settings are loaded, with the key named. A float with both bounds is finite (msgspec
refuses ``inf`` and ``NaN`` against them). ``Decimal`` cannot carry msgspec bounds: its
bounds ride in ``Meta.extra`` (``decimal_bounds``) and ``framework.settings.convert`` checks
them, refusing ``NaN`` and infinities for every ``Decimal`` whether it is bounded or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

import msgspec

MINUTE = 60.0
HOUR = 3600.0
DAY = 86_400.0
WEEK = 7 * DAY
MAX_COUNT = 10**9  # the largest count or size any setting takes
MAX_AMOUNT = Decimal("1e15")  # the largest amount of an asset any setting takes
DECIMAL_BOUNDS = "decimal_bounds"  # the Meta.extra key of a Decimal's bounds


@dataclass(frozen=True, slots=True)
class DecimalBounds:
    """Inclusive (``ge``, ``le``) or exclusive (``gt``) bounds of a ``Decimal`` setting."""

    ge: Decimal | None = None
    gt: Decimal | None = None
    le: Decimal | None = None

    def refusal(self, value: Decimal) -> str | None:
        """What is allowed, if ``value`` is outside the bounds (or not finite); else ``None``."""
        if not value.is_finite():
            return "a finite number" + (f" {self}" if str(self) else "")
        if (
            (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.le is not None and value > self.le)
        ):
            return f"a number {self}"
        return None

    def __str__(self) -> str:
        parts = [f">= {self.ge:f}" if self.ge is not None else ""]
        parts.append(f"> {self.gt:f}" if self.gt is not None else "")
        parts.append(f"<= {self.le:f}" if self.le is not None else "")
        return ", ".join(p for p in parts if p)


def decimal_meta(
    *, ge: Decimal | int | None = None, gt: Decimal | int | None = None, le: Decimal | int
) -> msgspec.Meta:
    """``Annotated[Decimal, decimal_meta(ge=0, le=1)]``: a bounded Decimal setting."""
    bounds = DecimalBounds(
        None if ge is None else Decimal(ge), None if gt is None else Decimal(gt), Decimal(le)
    )
    return msgspec.Meta(extra={DECIMAL_BOUNDS: bounds})


# Durations, in seconds.
Seconds = Annotated[float, msgspec.Meta(ge=0.001, le=WEEK)]
"""A duration of at least 1 ms and at most a week."""
SecondsOrZero = Annotated[float, msgspec.Meta(ge=0, le=WEEK)]
"""A duration of at most a week; 0 means at once, or off (the key says which)."""

# Counts and sizes.
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
"""A number of things, 0 allowed."""
PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)]
"""A number of things, at least 1."""
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
"""A share, 0 to 1."""

# Amounts and rates.
Amount = Annotated[Decimal, decimal_meta(ge=0, le=MAX_AMOUNT)]
"""An amount of an asset, 0 allowed."""
PositiveAmount = Annotated[Decimal, decimal_meta(gt=0, le=MAX_AMOUNT)]
"""An amount of an asset, more than 0."""
Rate = Annotated[Decimal, decimal_meta(ge=0, le=1)]
"""A rate or a relative difference, 0 to 1 (0.0004 is 0.04 %)."""

# Names.
ASSET_PATTERN = r"^[A-Z0-9]{1,20}$"
Asset = Annotated[str, msgspec.Meta(pattern=ASSET_PATTERN)]
"""An asset name as the exchange writes it (``USDT``); as a mapping key it is upper-cased."""
