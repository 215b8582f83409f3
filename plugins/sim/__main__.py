"""``python -m plugins.sim [--port N] [--seed S]``: the standalone simulator without the CLI."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import msgspec

from .config import SimSettings
from .standalone import serve_forever


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host``, ``--port`` and ``--seed`` and serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m plugins.sim")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=SimSettings().seed)
    args = parser.parse_args(argv)
    settings = msgspec.structs.replace(SimSettings(), seed=args.seed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(settings, args.port, args.host))


if __name__ == "__main__":
    main()
