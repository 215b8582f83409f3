"""``tradeloop flatten`` and ``tradeloop resume`` against a simulator over real sockets."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from framework.account_cli import run_flatten, run_resume
from framework.killswitch import KillSwitchState, read_state, state_path, write_state
from framework.loader import load_plugins
from framework.settings import load_settings
from framework.types import KillSwitchTrip
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import FAST_BINANCE, SimBotFactory, SimFactory
from tests.support import TRADELOOP, clean_env

from .helpers import SYMBOL, open_long


@pytest.fixture
async def still_sim(sim_factory: SimFactory) -> SimExchange:
    return await sim_factory(updates_per_second=0)


def write_settings(tmp_path: Path, sim: SimExchange) -> Path:
    """A bot folder whose settings point at ``sim`` as a standalone simulator."""
    path = tmp_path / "settings.yaml"
    default = {
        "exchange": {
            "name": "sim",
            "rest_url": sim.rest_url,
            "stream_url": sim.ws_url,
            "symbols": list(sim.settings.symbols),
        },
        "plugins": {"binance": FAST_BINANCE, "status": {"enabled": False}},
        "runtime": {"data_dir": str(tmp_path / "data")},
    }
    path.write_text(yaml.safe_dump({"default": default}))
    return path


async def tradeloop(settings: Path, *args: str) -> tuple[int, str, str]:
    """Run the installed ``tradeloop`` without blocking the loop the simulator serves on."""
    proc = await asyncio.create_subprocess_exec(
        str(TRADELOOP),
        "--settings",
        str(settings),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=settings.parent,
        env=clean_env(),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_flatten_yes_cancels_and_closes_and_prints_it(
    sim_bot: SimBotFactory, still_sim: SimExchange, tmp_path: Path
) -> None:
    bot = await sim_bot(sim=still_sim)
    await open_long(bot, still_sim)
    settings = write_settings(tmp_path, still_sim)

    code, out, err = await tradeloop(settings, "flatten", "--yes")

    assert code == 0, err
    truth = still_sim.truth()
    assert truth.open_orders == []
    assert truth.positions[SYMBOL].amount == 0
    assert "1 open orders, 1 positions" in out
    assert "cancelled BTCUSDT BUY LIMIT 0.010" in out
    assert "closed BTCUSDT BOTH 0.100: SELL 0.100 MARKET reduce-only FILLED" in out
    assert "1 orders cancelled, 1 positions closed, 0 failed" in out
    assert still_sim.settings.api_secret not in out + err


async def test_flatten_without_yes_and_without_a_terminal_refuses(
    sim_bot: SimBotFactory, still_sim: SimExchange, tmp_path: Path
) -> None:
    bot = await sim_bot(sim=still_sim)
    await open_long(bot, still_sim)
    settings = write_settings(tmp_path, still_sim)

    code, _, err = await tradeloop(settings, "flatten")

    assert code == 2
    assert "pass --yes" in err
    assert "nothing was done" in err
    assert len(still_sim.truth().open_orders) == 1
    assert still_sim.truth().positions[SYMBOL].amount == Decimal("0.100")


@pytest.mark.parametrize(("answer", "flattened"), [("y", True), ("n", False), ("", False)])
async def test_flatten_on_a_terminal_asks_first(
    sim_bot: SimBotFactory,
    still_sim: SimExchange,
    tmp_path: Path,
    answer: str,
    flattened: bool,
) -> None:
    bot = await sim_bot(sim=still_sim)
    await open_long(bot, still_sim)
    settings = load_settings(settings_file=write_settings(tmp_path, still_sim))
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return answer

    out = io.StringIO()
    code = await run_flatten(
        settings, load_plugins(settings), yes=False, out=out, is_tty=lambda: True, ask=ask
    )

    assert asked == ["cancel every open order and close every position? [y/N] "]
    assert "order BTCUSDT BUY LIMIT 0.010" in out.getvalue()  # shown before asking
    assert "position BTCUSDT BOTH 0.100" in out.getvalue()
    truth = still_sim.truth()
    if flattened:
        assert code == 0
        assert truth.open_orders == []
        assert truth.positions[SYMBOL].amount == 0
    else:
        assert code == 2
        assert "not confirmed: nothing was done" in out.getvalue()
        assert len(truth.open_orders) == 1
        assert truth.positions[SYMBOL].amount == Decimal("0.100")


async def test_resume_prints_what_it_cleared(tmp_path: Path, still_sim: SimExchange) -> None:
    settings_file = write_settings(tmp_path, still_sim)
    settings = load_settings(settings_file=settings_file)
    trip = KillSwitchTrip(
        limit="daily_loss",
        value=Decimal("512.5"),
        threshold=Decimal("500"),
        at=1_700_000_000.0,
        actions=("strategies held", "2 open orders cancelled"),
    )
    path = state_path(settings)
    write_state(path, KillSwitchState(asset="USDT", day="2023-11-14", trip=trip))

    code, out, err = await tradeloop(settings_file, "resume")

    assert code == 0, err
    assert "cleared kill switch trip: daily loss 512.5 USDT reached max_daily_loss 500 USDT" in out
    assert "2 open orders cancelled" in out
    saved = read_state(path)
    assert saved.trip is None
    assert saved.rebase
    again = io.StringIO()
    assert run_resume(settings, out=again) == 0
    assert "nothing to clear" in again.getvalue()


async def test_flatten_yes_closes_hedge_mode_positions(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    """A hedge-mode account: both sides of a symbol are closed by their side's order."""
    sim = await sim_factory(updates_per_second=0, dual_side_position=True)
    await sim.place_order(SYMBOL, "BUY", "0.100", position_side="LONG")
    await sim.place_order(SYMBOL, "SELL", "0.050", position_side="SHORT")
    settings = write_settings(tmp_path, sim)

    code, out, err = await tradeloop(settings, "flatten", "--yes")

    assert code == 0, err
    positions = sim.truth().positions
    assert (positions[f"{SYMBOL}:LONG"].amount, positions[f"{SYMBOL}:SHORT"].amount) == (0, 0)
    assert "closed BTCUSDT LONG 0.100: SELL 0.100 MARKET closing LONG FILLED" in out
    assert "closed BTCUSDT SHORT -0.050: BUY 0.050 MARKET closing SHORT FILLED" in out
    assert "0 orders cancelled, 2 positions closed, 0 failed" in out
