"""The ``sim`` built-in plugin: the ``tradeloop sim`` command and validation of ``sim:``.

The simulated exchange itself is a library (this package); the ``binance`` connector starts it
in-process when ``exchange.name`` is ``sim``.
"""

from __future__ import annotations

import argparse
import dataclasses

import msgspec

from framework import Command, Settings, hookimpl

from .config import parse_sim_settings
from .standalone import serve_forever


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--seed", type=int, help="seed of the price path and faults (sim.seed)")


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    sim_settings = parse_sim_settings(settings.sim)
    if args.seed is not None:
        sim_settings = msgspec.structs.replace(sim_settings, seed=args.seed)
    await serve_forever(sim_settings, port=args.port, host=args.host)
    return 0


@dataclasses.dataclass
class SimPlugin:
    """Adds ``tradeloop sim`` and checks the ``sim`` section at startup."""

    @hookimpl
    def register_commands(self) -> list[Command]:
        return [
            Command(
                name="sim",
                help="run the simulated Binance USD-M futures exchange standalone",
                run=_run,
                configure=_configure,
            )
        ]

    @hookimpl
    def validate_settings(self, settings: Settings) -> None:
        parse_sim_settings(settings.sim)
