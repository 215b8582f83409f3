"""CPU cost of ``AccountCache.apply_order`` + ``apply_fill`` (the ORDER_TRADE_UPDATE path),
this checkout against ``framework/cache.py`` of another git revision, in the same process.

Run: python benchmarks/bench_cache_orders.py [--against REV] [--orders N] [--repeats R]
Each order gets a NEW, a later FILLED and one fill; the cache has no listener. Prints JSON:
medians over R interleaved repeats of µs per update, and the ratio (this / REV).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from framework.types import Fill, Order

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path, name: str) -> ModuleType:
    """Import ``path`` as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def updates(n: int) -> tuple[list[Order], list[Fill]]:
    """NEW then FILLED for ``n`` orders, and one fill each."""
    orders: list[Order] = []
    fills: list[Fill] = []
    for i in range(n):
        for status, done, t in (("NEW", 0, 2 * i), ("FILLED", 1, 2 * i + 1)):
            orders.append(
                Order(
                    symbol="BTCUSDT",
                    order_id=i,
                    client_order_id=f"c{i}",
                    side="BUY",
                    type="LIMIT",
                    status=status,
                    price=Decimal("100"),
                    orig_qty=Decimal(1),
                    executed_qty=Decimal(done),
                    event_time=t,
                )
            )
        fills.append(
            Fill(
                symbol="BTCUSDT",
                order_id=i,
                trade_id=i,
                client_order_id=f"c{i}",
                side="BUY",
                price=Decimal("100"),
                qty=Decimal(1),
                fee=Decimal("0.01"),
                fee_asset="USDT",
                realized_pnl=Decimal(0),
                is_maker=False,
                event_time=2 * i + 1,
            )
        )
    return orders, fills


def once(module: ModuleType, orders: list[Order], fills: list[Fill]) -> float:
    """µs of CPU per update for one fresh cache."""
    cache: Any = module.AccountCache()
    started = time.process_time()
    for order in orders:
        cache.apply_order(order)
    for fill in fills:
        cache.apply_fill(fill)
    return (time.process_time() - started) / (len(orders) + len(fills)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision to compare with")
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=31)
    args = parser.parse_args()
    source = subprocess.run(
        ["git", "show", f"{args.against}:framework/cache.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        other_path = Path(tmp) / "cache_other.py"
        other_path.write_bytes(source)
        other = load(other_path, "cache_other")
        this = load(ROOT / "framework" / "cache.py", "cache_this")
        orders, fills = updates(args.orders)
        runs: dict[str, list[float]] = {"this": [], args.against: []}
        for _ in range(args.repeats):  # interleaved: both see the same machine noise
            runs["this"].append(once(this, orders, fills))
            runs[args.against].append(once(other, orders, fills))
    medians = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    ratio = round(medians["this"] / medians[args.against], 3)
    print(orjson.dumps({"us_per_update": medians, "ratio": ratio}).decode())


if __name__ == "__main__":
    main()
