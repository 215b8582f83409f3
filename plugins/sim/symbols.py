"""The contracts the simulator can list, with real-looking USD-M filters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One perpetual contract: precisions, filters and the price its random path starts from."""

    symbol: str
    base_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    start_price: Decimal
    top_qty: Decimal
    price_precision: int
    quantity_precision: int
    quote_asset: str = "USDT"
    multiplier_up: Decimal = Decimal("1.0500")
    multiplier_down: Decimal = Decimal("0.9500")
    maint_margin_rate: Decimal = Decimal("0.004")
    max_num_orders: int = 200

    def fmt_price(self, value: Decimal) -> str:
        """Render a price with the contract's price precision."""
        return f"{value:.{self.price_precision}f}"

    def fmt_qty(self, value: Decimal) -> str:
        """Render a quantity with the contract's quantity precision."""
        return f"{value:.{self.quantity_precision}f}"


def _d(text: str) -> Decimal:
    return Decimal(text)


SYMBOL_CATALOGUE: dict[str, SymbolSpec] = {
    spec.symbol: spec
    for spec in (
        SymbolSpec(
            "BTCUSDT",
            "BTC",
            _d("0.10"),
            _d("0.001"),
            _d("0.001"),
            _d("1000"),
            _d("120"),
            _d("100"),
            _d("65000.00"),
            _d("2.000"),
            2,
            3,
        ),
        SymbolSpec(
            "ETHUSDT",
            "ETH",
            _d("0.01"),
            _d("0.001"),
            _d("0.001"),
            _d("10000"),
            _d("2000"),
            _d("20"),
            _d("3500.00"),
            _d("25.000"),
            2,
            3,
        ),
        SymbolSpec(
            "BNBUSDT",
            "BNB",
            _d("0.010"),
            _d("0.01"),
            _d("0.01"),
            _d("100000"),
            _d("2000"),
            _d("5"),
            _d("600.000"),
            _d("40.00"),
            3,
            2,
        ),
        SymbolSpec(
            "SOLUSDT",
            "SOL",
            _d("0.0100"),
            _d("1"),
            _d("1"),
            _d("1000000"),
            _d("5000"),
            _d("5"),
            _d("150.0000"),
            _d("300"),
            4,
            0,
        ),
        SymbolSpec(
            "XRPUSDT",
            "XRP",
            _d("0.0001"),
            _d("0.1"),
            _d("0.1"),
            _d("10000000"),
            _d("2000000"),
            _d("5"),
            _d("0.6000"),
            _d("50000.0"),
            4,
            1,
        ),
    )
}
