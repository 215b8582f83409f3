"""``tradeloop resume`` (clear a tripped kill switch) and ``tradeloop flatten`` (cancel every
open order and close every position of the configured account)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

import msgspec

from framework.errors import EXIT_OK, EXIT_RUNTIME_ERROR, EXIT_USAGE
from framework.flatten import FlattenResult, flatten_account
from framework.killswitch import KillSwitchStateError, clear_trip, reset_state, state_path
from framework.loader import LoadedPlugins, load_plugins
from framework.runtime import Bot
from framework.settings import KillSwitchSettings, Settings
from framework.types import AccountSnapshot

RESUME = "resume"
FLATTEN = "flatten"
COMMANDS = (RESUME, FLATTEN)
ENDPOINT_PUBLISHERS = ("sim",)
"""Plugins the flatten bot keeps besides the exchange's provider: they publish where it is."""


def configure(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``resume`` and ``flatten`` to the CLI."""
    sub.add_parser(RESUME, help="clear a tripped kill switch (strategies trade again)")
    flatten = sub.add_parser(
        FLATTEN, help="cancel every open order and close every position of the account"
    )
    flatten.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run_resume(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Clear the saved trip; say what was cleared (or that nothing was tripped)."""
    path = state_path(settings)
    try:
        trip = clear_trip(path)
    except KillSwitchStateError as exc:
        reset_state(path)
        print(f"{exc}", file=out)
        print(f"replaced it with a cleared kill switch state: {path}", file=out)
        return EXIT_OK
    if trip is None:
        print(f"kill switch is not tripped ({path}): nothing to clear", file=out)
        return EXIT_OK
    print(f"cleared kill switch trip: {trip.describe()}", file=out)
    print(f"  tripped at {_iso(trip.at)}; actions then: {'; '.join(trip.actions)}", file=out)
    print(
        "  strategies trade again (a running bot releases them at its next check); the day's "
        "loss and drawdown count from the equity at that point; the clearing is journaled by "
        "the running bot, or else by the next one to start",
        file=out,
    )
    return EXIT_OK


def flatten_settings(settings: Settings, loaded: LoadedPlugins) -> Settings:
    """``settings`` for a bot that only reaches the exchange: no strategies, no kill-switch
    limits, and of the plugins only the exchange's provider and the simulator."""
    keep = {
        info.name
        for info in loaded.infos
        if info.kind == "plugin"
        and info.enabled
        and ("provide_exchange" in info.hooks or info.name in ENDPOINT_PUBLISHERS)
    }
    names = {info.name for info in loaded.infos if info.kind == "plugin"} | set(settings.plugins)
    plugins = {name: {**settings.plugins.get(name, {}), "enabled": name in keep} for name in names}
    return msgspec.structs.replace(
        settings,
        strategies=(),
        plugins=plugins,
        kill_switch=KillSwitchSettings(asset=settings.kill_switch.asset),
    )


async def run_flatten(
    settings: Settings,
    loaded: LoadedPlugins,
    *,
    yes: bool,
    out: TextIO = sys.stdout,
    is_tty: Callable[[], bool] = sys.stdin.isatty,
    ask: Callable[[str], str] = input,
) -> int:
    """Connect, show what is open, ask (unless ``yes``), flatten, print what was done."""
    if not yes and not is_tty():
        print(
            "tradeloop: error: flatten asks for confirmation and stdin is not a terminal; "
            "pass --yes to flatten without asking (nothing was done)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    reduced = flatten_settings(settings, loaded)
    bot = Bot(reduced, load_plugins(reduced))
    await bot.start()
    try:
        if not bot.ctx.has_exchange:
            print("tradeloop: error: no exchange connector is enabled", file=sys.stderr)
            return EXIT_USAGE
        where = f"{settings.exchange.name} (env {settings.env})"
        snapshot = await bot.ctx.exchange.fetch_account_snapshot()
        _print_open(snapshot, where, out)
        if not snapshot.open_orders and not any(p.amount for p in snapshot.positions):
            print("nothing to flatten", file=out)
            return EXIT_OK
        if not yes:
            answer = await asyncio.to_thread(
                ask, "cancel every open order and close every position? [y/N] "
            )
            if answer.strip().lower() not in ("y", "yes"):
                print("not confirmed: nothing was done", file=out)
                return EXIT_USAGE
        result = await flatten_account(bot.ctx, reason="tradeloop flatten")
        _print_result(result, out)
        return EXIT_OK if result.ok else EXIT_RUNTIME_ERROR
    finally:
        await bot.stop()


def _print_open(snapshot: AccountSnapshot, where: str, out: TextIO) -> None:
    positions = [p for p in snapshot.positions if p.amount]
    print(
        f"account on {where}: {len(snapshot.open_orders)} open orders, {len(positions)} positions",
        file=out,
    )
    for o in snapshot.open_orders:
        print(
            f"  order {o.symbol} {o.side} {o.type} {o.orig_qty - o.executed_qty:f} @ {o.price:f}"
            f" ({o.client_order_id})",
            file=out,
        )
    for p in positions:
        print(f"  position {p.symbol} {p.side} {p.amount:f} entry {p.entry_price:f}", file=out)


def _print_result(result: FlattenResult, out: TextIO) -> None:
    for line in result.lines():
        print(line, file=out)
    print(result.summary(), file=out)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
