"""Write a report's three files atomically (a reader never sees half a file)."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from framework import TradeloopError
from framework.errors import EXIT_USAGE

from .markdown import render_markdown
from .model import Report
from .page import render_html


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_report(report: Report, directory: str | Path) -> tuple[str, ...]:
    """``<dir>/<day>.md``, ``.json`` and ``.html``; returns their paths (blocking: use a thread)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    outputs = {
        folder / f"{report.day}.md": render_markdown(report).encode(),
        folder / f"{report.day}.json": msgspec.json.format(msgspec.json.encode(report), indent=2)
        + b"\n",
        folder / f"{report.day}.html": render_html(report).encode(),
    }
    for path, data in outputs.items():
        _write(path, data)
    return tuple(str(p) for p in outputs)


class DamagedReportError(TradeloopError):
    """A report file that cannot be read back; the message names it (exit 2)."""

    exit_code = EXIT_USAGE


def read_report(path: str | Path) -> Report:
    """A report back from its JSON file; ``DamagedReportError`` naming it if unreadable."""
    try:
        return msgspec.json.decode(Path(path).read_bytes(), type=Report)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DamagedReportError(
            f"report {path} cannot be read ({exc}); write it again from the journal with "
            "tradeloop report --date YYYY-MM-DD"
        ) from None
