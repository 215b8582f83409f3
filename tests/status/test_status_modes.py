"""Modes: auto's choice, the log lines, and the live display sharing the terminal with logs."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterator

import pytest
from loguru import logger
from rich.console import Console

from framework import ManualClock
from framework.testing import BotFactory
from plugins.smart_logging import SmartLogging, SmartLoggingSettings
from plugins.status import LiveDisplay, StatusPlugin, StatusSettings, render_panel, resolve_mode
from plugins.status.display import LineProxy

from .helpers import FakeTerminal, plain, sample_snapshot


@pytest.fixture
def status_lines() -> Iterator[list[str]]:
    """Messages the status plugin logs."""
    lines: list[str] = []
    handler = logger.add(
        lambda message: lines.append(message.rstrip("\n")),
        format="{message}",
        level="INFO",
        filter=lambda record: record["name"].startswith("plugins.status"),
    )
    yield lines
    logger.remove(handler)


@pytest.fixture
def restore_loguru() -> Iterator[None]:
    """smart_logging replaces loguru's handlers; put the default one back afterwards."""
    yield
    logger.remove()
    logger.add(sys.stderr)


def test_resolve_mode() -> None:
    tty, pipe = FakeTerminal(), io.StringIO()
    term = {"TERM": "xterm-256color"}
    assert resolve_mode("auto", stdout=pipe, stderr=pipe, environ=term) == ("log", None)
    assert resolve_mode("auto", stdout=pipe, stderr=tty, environ=term) == ("live", tty)
    assert resolve_mode("auto", stdout=tty, stderr=pipe, environ=term) == ("live", tty)
    assert resolve_mode("auto", stdout=tty, stderr=tty, environ={"TERM": "dumb"}) == ("log", None)
    assert resolve_mode("live", stdout=pipe, stderr=pipe, environ=term) == ("live", pipe)
    assert resolve_mode("live", stdout=None, stderr=None, environ=term) == ("log", None)
    assert resolve_mode("log", stdout=tty, stderr=tty, environ=term) == ("log", None)
    assert resolve_mode("off", stdout=tty, stderr=tty, environ=term) == ("off", None)
    closed = FakeTerminal()
    closed.close()
    assert resolve_mode("auto", stdout=closed, stderr=None, environ=term) == ("log", None)


async def test_auto_picks_log_lines_when_not_a_terminal(bot_factory: BotFactory) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = StatusPlugin(StatusSettings(), stdout=out, stderr=err)
    bot = await bot_factory(plugins={"status": status})
    assert status.mode == "log"
    assert set(bot.scheduler.stats()) == {"status.log"}
    await bot.stop()
    assert out.getvalue() == err.getvalue() == ""


async def test_off_shows_nothing_and_registers_no_job(
    bot_factory: BotFactory, status_lines: list[str]
) -> None:
    status = StatusPlugin(StatusSettings(mode="off"), stderr=FakeTerminal())
    bot = await bot_factory(plugins={"status": status})
    assert status.mode == "off"
    assert bot.scheduler.stats() == {}
    await bot.stop()
    assert status_lines == ["status: display off"]


async def test_log_mode_writes_a_line_every_interval_and_one_at_stop(
    bot_factory: BotFactory, manual_clock: ManualClock, status_lines: list[str]
) -> None:
    status = StatusPlugin(StatusSettings(mode="log", log_interval=60.0))
    bot = await bot_factory(plugins={"status": status}, clock=manual_clock)
    assert status_lines == ["status: a status line every 60 s"]
    await manual_clock.advance(59)
    assert len(status_lines) == 1
    await manual_clock.advance(1)
    await manual_clock.advance(60)
    await bot.stop()
    assert status_lines[1:] == [
        "status: SIMULATED | up 1m00s | exchange none | equity - | strategies none | positions none"
        " | pnl unrealized 0.00 USDT, realized 0.00 USDT, fees 0.00 USDT (0 fills)"
        " | balances none | open orders 0 | reconcile off (no reconciliation plugin) | streams none"
        " | events 0.0 ticks/s, 0.0 account events/s | plugins ok",
        "status: SIMULATED | up 2m00s | exchange none | equity - | strategies none | positions none"
        " | pnl unrealized 0.00 USDT, realized 0.00 USDT, fees 0.00 USDT (0 fills)"
        " | balances none | open orders 0 | reconcile off (no reconciliation plugin) | streams none"
        " | events 0.0 ticks/s, 0.0 account events/s | plugins ok",
        f"status at stop: {status.last_line}",
    ]


async def test_a_terminal_that_refuses_writes_falls_back_to_log_lines(
    bot_factory: BotFactory, status_lines: list[str]
) -> None:
    class BrokenTerminal(FakeTerminal):
        def write(self, text: str) -> int:
            raise OSError("terminal gone")

    real_stderr = sys.stderr
    status = StatusPlugin(StatusSettings(), stdout=io.StringIO(), stderr=BrokenTerminal())
    bot = await bot_factory(plugins={"status": status})
    assert status.mode == "log"
    assert sys.stderr is real_stderr
    assert set(bot.scheduler.stats()) == {"status.log"}
    assert status_lines[-1] == "status: a status line every 60 s"
    assert "live display unavailable" in status_lines[0]


def test_live_display_draws_in_place_on_a_terminal() -> None:
    terminal = FakeTerminal()
    display = LiveDisplay(terminal, redirect_stdout=False, redirect_stderr=False, width=90)
    display.start()
    display.show(render_panel(sample_snapshot()))
    display.stop(render_panel(sample_snapshot(open_orders=7)))
    raw = terminal.getvalue()
    assert "\x1b[?25l" in raw  # cursor hidden while live
    assert raw.endswith("\x1b[?25h")  # and shown again
    assert "\x1b[2K" in raw  # each frame erases the previous one
    text = plain(raw)
    assert "tradeloop status: starting" in text
    assert text.count("╭─ tradeloop · binance_futures") == 2
    last = text[text.rindex("╭─ tradeloop") :]
    assert "Open orders  7" in last
    assert all(len(line) == 90 for line in last.splitlines())


def test_line_proxy_prints_whole_lines_unwrapped_and_coloured() -> None:
    terminal = FakeTerminal()
    console = Console(file=terminal, force_terminal=True, width=40, color_system="standard")
    proxy = LineProxy(console, terminal)
    proxy.write("partial ")
    assert terminal.getvalue() == ""
    long = "x" * 60
    text = f"line\nnext \x1b[31mred\x1b[0m {long}\n"
    assert proxy.write(text) == len(text)
    output = terminal.getvalue()
    assert plain(output).splitlines() == ["partial line", f"next red {long}"]  # not re-wrapped
    assert "\x1b[31mred" in output
    proxy.write("tail")
    proxy.flush()
    assert plain(terminal.getvalue()).endswith("tail\n")
    assert proxy.isatty()
    assert proxy.encoding == terminal.encoding
    with pytest.raises(TypeError):
        proxy.write(b"bytes")  # type: ignore[arg-type]


async def test_live_mode_prints_logs_above_the_display(
    bot_factory: BotFactory, manual_clock: ManualClock, restore_loguru: None
) -> None:
    terminal = FakeTerminal()
    logging = SmartLogging(SmartLoggingSettings(colorize=False))
    status = StatusPlugin(
        StatusSettings(interval=1.0), stdout=io.StringIO(), stderr=terminal, width=100
    )
    real_stderr = sys.stderr
    bot = await bot_factory(
        plugins={"smart_logging": logging, "status": status}, clock=manual_clock
    )
    assert status.mode == "live"
    assert sys.stderr is not real_stderr  # rich's proxy while the display is up
    assert set(bot.scheduler.stats()) == {"status.refresh"}

    logger.warning("order 42 rejected: insufficient margin")
    await asyncio.to_thread(logging.drain, 10)
    await status.refresh()
    await bot.stop()
    assert sys.stderr is real_stderr

    text = plain(terminal.getvalue())
    logged = text.index("order 42 rejected: insufficient margin")
    assert "status: live display, refreshed every 1 s" in text[:logged]
    assert (
        text.rindex("╭─ tradeloop · SIMULATED · no exchange") > logged
    )  # redrawn below the log line
    assert text.rstrip().endswith("╯")  # the last frame stays on screen
    for line in text.splitlines():
        if "insufficient margin" in line:
            assert "│" not in line  # a log line never lands inside the panel
