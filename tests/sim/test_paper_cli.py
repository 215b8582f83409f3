"""``tradeloop run`` with ``exchange.name: paper`` against a standalone ``tradeloop sim``
process as the venue: two runs trade one paper account, and the report explains it."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.sim.account import account_path
from tests.support import TRADELOOP, clean_env, run_cli

VENUE_SETTINGS = """\
default:
  plugins:
    sim: {updates_per_second: 50, persist: false}
"""

PAPER_SETTINGS = """\
default:
  exchange:
    name: paper
    symbols: [BTCUSDT]
  plugins:
    status: {{enabled: false}}
    daily_report: {{catch_up: false, dir: reports}}
    sim:
      paper: {{rest_url: "{rest}", stream_url: "{ws}", reconnect_base: 0.05, reconnect_cap: 0.5}}
  strategies:
  - id: ma_btc
    use: ma_crossover
    params: {{symbol: BTCUSDT, fast: 2, slow: 4, interval: 0.1, quantity: '0.002'}}
    risk: {{max_position: '0.004', max_order_notional: '500', max_open_orders: 2}}
"""


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A standalone ``tradeloop sim`` (its own folder and account); its REST and stream URLs."""
    folder = tmp_path / "venue"
    folder.mkdir()
    (folder / "settings.yaml").write_text(VENUE_SETTINGS, encoding="utf-8")
    process = subprocess.Popen(
        [str(TRADELOOP), "sim", "--port", "0", "--seed", "3"],
        cwd=folder,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"tradeloop sim: rest=(\S+) ws=(\S+) ", line)
        assert match is not None, line
        yield match.group(1), match.group(2)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_two_paper_runs_trade_on_the_venues_prices_on_one_account(
    tmp_path: Path, venue: tuple[str, str]
) -> None:
    rest, ws = venue
    bot = tmp_path / "bot"
    bot.mkdir()
    (bot / "settings.yaml").write_text(PAPER_SETTINGS.format(rest=rest, ws=ws), encoding="utf-8")
    check = run_cli("check", cwd=bot)
    assert check.returncode == 0, check.stderr
    wallets = []
    for n in (1, 2):
        run = run_cli("run", "--for", "4", "--summary", f"run{n}.json", cwd=bot)
        assert run.returncode == 0, run.stderr
        assert "PAPER trading: prices from " + ws in run.stderr
        saved = json.loads(account_path(bot / "data", paper=True).read_text(encoding="utf-8"))
        wallets.append(Decimal(saved["wallet"]["USDT"]))
    summaries = [json.loads((bot / f"run{n}.json").read_text()) for n in (1, 2)]
    assert all(s["exchange"] == "paper" for s in summaries)
    assert all(s["fills"] for s in summaries), [s["fills"] for s in summaries]
    assert wallets[0] != Decimal("10000")
    day = datetime.now(UTC).date().isoformat()
    report = run_cli("report", "--date", day, cwd=bot)
    assert report.returncode == 0, report.stderr
    figures = json.loads((bot / "reports" / f"{day}.json").read_text(encoding="utf-8"))
    assert Decimal(figures["unexplained_change"]) == 0
    (usdt,) = figures["balances"]
    assert (Decimal(usdt["start"]), Decimal(usdt["end"])) == (Decimal(10000), wallets[1])
