"""``tradeloop replay FILE``: replay a recording, compare it with the live run, or make a test
of it (``--to-test``). Registered by the always-on ``replay`` plugin."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from framework import Command, Settings, hookimpl

EXIT_DIFFERS = 1
EXIT_UNREADABLE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """``FILE``, ``--to-test``, ``--timeout``, ``--json``."""
    parser.add_argument("file", type=Path, help="a recording (.tlrec; later parts follow)")
    parser.add_argument(
        "--to-test",
        type=Path,
        metavar="PATH",
        help="write a pytest file replaying the recording (copied to recordings/ beside it)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds the bot may take to make a recorded request (default 10)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Replay; 0 when the replay ends as the live run did, 1 when not, 2 on a bad file."""
    from .replay import ReplayDiverged, UnreadableRecording, replay_file
    from .to_test import write_test

    path: Path = args.file
    try:
        result = await replay_file(path, within=args.timeout)
    except UnreadableRecording as exc:
        print(f"tradeloop: error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except ReplayDiverged as exc:
        print(f"tradeloop: error: {exc}", file=sys.stderr)
        return EXIT_DIFFERS
    diffs = result.differences
    if args.json:
        print(
            json.dumps(
                {
                    "frames": result.frames,
                    "rest": result.rest,
                    "seconds": round(result.seconds, 3),
                    "messages_per_s": round(result.messages_per_second),
                    "files": result.files,
                    "live_outcome": result.live is not None,
                    "differences": diffs,
                    "unanswered": result.unanswered,
                    "not_run": result.not_run,
                    "outcome": result.outcome,
                },
                indent=2,
            )
        )
    else:
        outcome = result.outcome
        print(
            f"replayed {result.frames:,} frames and {result.rest:,} REST answers in "
            f"{result.seconds:.2f} s ({result.messages_per_second:,.0f} messages/s)"
        )
        print(
            f"fills: {len(outcome['fills'])}, reconcile results: {len(outcome['reconcile'])}, "
            f"open orders: {len(outcome['cache']['open_orders'])}, positions: "
            f"{len(outcome['cache']['positions'])}"
        )
        if result.live is None:
            print("the recording holds no outcome (the run did not stop cleanly): not compared")
        elif diffs:
            print("the replay differs from the live run:")
            for line in diffs:
                print(f"  {line}")
        else:
            print("fills, reconcile results and final cache equal the live run's")
        if result.not_run:
            print(
                f"left out: {result.not_run:,} request(s) of plugins a replay does not run "
                "(the journal's account snapshot, ...)"
            )
        for request in result.unanswered:
            print(f"not in the recording: {request}")
        if result.torn_blocks:
            print(f"a torn last block was skipped ({result.torn_blocks})")
    if args.to_test is not None:
        try:
            written = write_test(path, args.to_test)
        except FileExistsError as exc:
            print(f"tradeloop: error: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
        for file in written:
            print(f"wrote {file}")
    return EXIT_DIFFERS if diffs else 0


class ReplayCommands:
    """Adds ``tradeloop replay`` (the ``recorder`` plugin records; this one replays)."""

    @hookimpl
    def register_commands(self) -> list[Command]:
        """``tradeloop replay``."""
        return [
            Command(
                name="replay",
                help="replay a flight recording through the bot (docs/replay.md)",
                run=run,
                configure=configure,
            )
        ]
