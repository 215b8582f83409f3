"""The simulator's paper account lives on in the data folder across runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.sim import SimExchange
from plugins.sim.account import AccountFileError, account_path
from plugins.sim.testing import sim_settings, until
from tests.support import run_cli


async def _trade(sim: SimExchange) -> None:
    await sim.place_order("BTCUSDT", "BUY", "0.010")
    await sim.place_order("BTCUSDT", "SELL", "0.004")
    await sim.place_order(
        "ETHUSDT", "BUY", "0.100", order_type="LIMIT", price="3000.00", time_in_force="GTC"
    )


async def test_the_account_survives_a_restart(tmp_path: Path) -> None:
    path = account_path(tmp_path)
    first = SimExchange(sim_settings(updates_per_second=0), account_file=path)
    await first.start()
    await _trade(first)
    before = first.truth()
    trades = list(first.engine.trades)
    next_ids = (first.engine.next_order_id, first.engine.next_trade_id)
    await first.stop()
    assert path.is_file()

    second = SimExchange(sim_settings(updates_per_second=0), account_file=path)
    await second.start()
    try:
        after = second.truth()
        assert after.positions["BTCUSDT"].amount == Decimal("0.006")
        assert after.positions["BTCUSDT"].entry_price == before.positions["BTCUSDT"].entry_price
        assert after.balances["USDT"].wallet_balance == before.balances["USDT"].wallet_balance
        assert after.balances["USDT"].wallet_balance != Decimal("10000")
        assert after.open_orders == before.open_orders
        assert second.engine.trades == trades
        assert (second.engine.next_order_id, second.engine.next_trade_id) == next_ids
        # the open order can be cancelled, and new ids never repeat old ones
        (resting,) = second.engine.open_orders["ETHUSDT"].values()
        second.cancel(resting)
        placed = await second.place_order("BTCUSDT", "SELL", "0.006")
        assert placed["orderId"] == next_ids[0]
        assert second.engine.trades[-1].trade_id == next_ids[1]
    finally:
        await second.stop()


async def test_without_a_file_every_start_is_a_fresh_account(tmp_path: Path) -> None:
    sim = SimExchange(sim_settings(updates_per_second=0))
    async with sim:
        await _trade(sim)
    assert not _listing(tmp_path)


async def test_a_symbol_the_account_holds_stays_listed(tmp_path: Path) -> None:
    path = account_path(tmp_path)
    async with SimExchange(sim_settings(updates_per_second=0), account_file=path) as sim:
        await sim.place_order("ETHUSDT", "BUY", "0.100")
    narrower = sim_settings(updates_per_second=0, symbols=["BTCUSDT"])
    async with SimExchange(narrower, account_file=path) as sim:
        assert sim.truth().positions["ETHUSDT"].amount == Decimal("0.100")


async def test_a_damaged_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = account_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "wallet": ', encoding="utf-8")
    with pytest.raises(AccountFileError, match=str(path)):
        SimExchange(sim_settings(), account_file=path)
    assert path.read_text(encoding="utf-8") == '{"version": 1, "wallet": '  # left alone
    path.write_text(json.dumps({"version": 99}), encoding="utf-8")
    with pytest.raises(AccountFileError, match="damaged"):
        SimExchange(sim_settings(), account_file=path)


async def test_two_simulators_cannot_share_an_account(tmp_path: Path) -> None:
    path = account_path(tmp_path)
    async with SimExchange(sim_settings(updates_per_second=0), account_file=path):
        other = SimExchange(sim_settings(updates_per_second=0), account_file=path)
        with pytest.raises(AccountFileError, match="in use"):
            await other.start()
        await other.stop()


async def test_a_save_while_running_is_whole(tmp_path: Path) -> None:
    path = account_path(tmp_path)
    settings = sim_settings(updates_per_second=0, save_interval=0.01)
    async with SimExchange(settings, account_file=path) as sim:
        await sim.place_order("BTCUSDT", "BUY", "0.010")
        trades = len(sim.engine.trades)
        await until(lambda: _saved_trades(path) == trades)  # the periodic save, not the stop's
        assert not [name for name in _listing(path.parent) if name.endswith(".tmp")]


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _saved_trades(path: Path) -> int:
    if not path.exists():
        return -1
    return len(json.loads(path.read_text(encoding="utf-8"))["trades"])


def test_reset_moves_the_account_aside(tmp_path: Path) -> None:
    path = account_path(tmp_path / "data")
    path.parent.mkdir(parents=True)
    path.write_text("{}", encoding="utf-8")
    result = run_cli("sim", "--reset", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not path.exists()
    (kept,) = path.parent.glob("account.*.json")
    assert kept.read_text(encoding="utf-8") == "{}"
    assert kept.name in result.stdout


TWO_RUNS_SETTINGS = """\
default:
  plugins:
    status: {enabled: false}
    daily_report: {catch_up: false, dir: reports}
    sim: {updates_per_second: 50}
  strategies:
  - id: ma_btc
    use: ma_crossover
    params: {symbol: BTCUSDT, fast: 2, slow: 4, interval: 0.1, quantity: '0.002'}
    risk: {max_position: '0.004', max_order_notional: '500', max_open_orders: 2}
"""


def test_two_runs_trade_on_one_account_and_the_report_explains_every_change(
    tmp_path: Path,
) -> None:
    (tmp_path / "settings.yaml").write_text(TWO_RUNS_SETTINGS, encoding="utf-8")
    wallets = []
    for n in (1, 2):
        run = run_cli("run", "--for", "4", "--summary", f"run{n}.json", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        saved = json.loads(account_path(tmp_path / "data").read_text(encoding="utf-8"))
        wallets.append(Decimal(saved["wallet"]["USDT"]))
    fills = [json.loads((tmp_path / f"run{n}.json").read_text())["fills"] for n in (1, 2)]
    assert all(fills), fills  # both runs traded
    assert wallets[0] != Decimal("10000")
    day = datetime.now(UTC).date().isoformat()
    report = run_cli("report", "--date", day, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    figures = json.loads((tmp_path / "reports" / f"{day}.json").read_text(encoding="utf-8"))
    assert Decimal(figures["unexplained_change"]) == 0
    (usdt,) = figures["balances"]
    assert (Decimal(usdt["start"]), Decimal(usdt["end"])) == (Decimal(10000), wallets[1])
    held = {p["symbol"]: Decimal(p["amount"]) for p in saved["positions"] if Decimal(p["amount"])}
    assert {p["symbol"]: Decimal(p["amount"]) for p in figures["positions"]} == held
