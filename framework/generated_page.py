"""The command line of a docs page generated from the code (``python -m MODULE [--write]``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def page_main(render: Callable[[], str], page: Path, command: str, argv: list[str] | None) -> int:
    """Print the page ``render`` makes, or with ``--write`` replace ``page`` with it."""
    args = sys.argv[1:] if argv is None else argv
    text = render()  # everything is read before the page is touched
    if args == ["--write"]:
        page.write_text(text, encoding="utf-8")
        print(f"wrote {page}", file=sys.stderr)
    elif not args:
        sys.stdout.write(text)
    else:
        print(f"usage: {command.removesuffix(' --write')} [--write]", file=sys.stderr)
        return 2
    return 0
