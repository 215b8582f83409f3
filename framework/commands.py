"""Sub-commands that plugins add to the ``tradeloop`` CLI through ``register_commands``."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from framework.settings import Settings

CommandRunner = Callable[[argparse.Namespace, Settings], int | Awaitable[int]]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


@dataclass(frozen=True)
class Command:
    """A CLI sub-command: ``configure`` adds its arguments, ``run`` returns the exit code.

    ``run`` may be a coroutine function; the CLI then runs it on the bot's event loop.
    """

    name: str
    help: str
    run: CommandRunner
    configure: Callable[[argparse.ArgumentParser], None] = field(default=_no_arguments)
