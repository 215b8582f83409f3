"""How money is shown to a trader: rounded to its asset's display precision.

One rule for every plugin that prints amounts (the daily report, the status panel), so the same
figure reads the same everywhere. Stored and computed values keep every digit; only the text is
rounded.
"""

from __future__ import annotations

from decimal import Decimal

ASSET_DECIMALS = {
    "USDT": 2,
    "USDC": 2,
    "FDUSD": 2,
    "BUSD": 2,
    "USD": 2,
    "BNB": 6,
    "BTC": 8,
    "ETH": 8,
}
"""Display precision of money per asset; other assets: 8."""


def money(value: Decimal | None, asset: str, *, sign: bool = False) -> str:
    """``value`` rounded to ``asset``'s display precision with thousands separators; ``sign``
    writes ``+``/``-`` (a value that rounds to zero has no sign); ``-`` when unknown."""
    if value is None:
        return "-"
    places = ASSET_DECIMALS.get(asset, 8)
    rounded = value.quantize(Decimal(1).scaleb(-places))
    if not rounded:
        rounded = abs(rounded)
    text = f"{rounded:,.{places}f}"
    return f"+{text}" if sign and rounded > 0 else text
