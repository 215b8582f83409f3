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
    max_price: Decimal = Decimal("4529764")
    min_price: Decimal | None = None
    """``PRICE_FILTER.minPrice``; ``None``: the tick size."""
    market_step_size: Decimal | None = None
    """``MARKET_LOT_SIZE.stepSize``; ``None``: ``step_size``."""
    market_min_qty: Decimal | None = None
    """``MARKET_LOT_SIZE.minQty``; ``None``: ``min_qty``."""

    @property
    def min_price_value(self) -> Decimal:
        """``PRICE_FILTER.minPrice``."""
        return self.tick_size if self.min_price is None else self.min_price

    def lot_step(self, *, market: bool) -> Decimal:
        """The step of ``MARKET_LOT_SIZE`` (``market``) or ``LOT_SIZE``."""
        if market and self.market_step_size is not None:
            return self.market_step_size
        return self.step_size

    def lot_min_qty(self, *, market: bool) -> Decimal:
        """The minimum quantity of ``MARKET_LOT_SIZE`` (``market``) or ``LOT_SIZE``."""
        if market and self.market_min_qty is not None:
            return self.market_min_qty
        return self.min_qty

    def lot_max_qty(self, *, market: bool) -> Decimal:
        """The maximum quantity of ``MARKET_LOT_SIZE`` (``market``) or ``LOT_SIZE``."""
        return self.market_max_qty if market else self.max_qty

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
            market_step_size=_d("1"),
            market_min_qty=_d("1"),
        ),
    )
}
