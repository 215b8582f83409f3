"""Choosing the mode, and the live terminal display (rich's ``Live``).

While the live display runs, ``sys.stdout`` and ``sys.stderr`` (those that are terminals) are
``LineProxy`` objects: whatever is written to them is printed *above* the display, which then
redraws below. ``smart_logging``'s console sink looks ``sys.stderr``/``sys.stdout`` up at every
write, so log lines take that path and never tear the display.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any, Literal, TextIO

from rich.ansi import AnsiDecoder
from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from .settings import Mode

Resolved = Literal["live", "log", "off"]


def is_terminal(stream: TextIO | None) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or odd stream is not)."""
    isatty = getattr(stream, "isatty", None)
    if not callable(isatty):
        return False
    try:
        return bool(isatty())
    except (ValueError, OSError):
        return False


def resolve_mode(
    mode: Mode,
    *,
    stdout: TextIO | None,
    stderr: TextIO | None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[Resolved, TextIO | None]:
    """The mode in force and, for ``live``, the stream the display is drawn on.

    ``auto`` is ``live`` on the first terminal of stderr and stdout, and ``log`` when neither is
    a terminal or ``TERM`` is ``dumb``. ``live`` draws on that terminal, or on stderr.
    """
    if mode in ("off", "log"):
        return mode, None
    terminal = next((s for s in (stderr, stdout) if is_terminal(s)), None)
    if mode == "live":
        stream = terminal or stderr or stdout
        return ("live", stream) if stream is not None else ("log", None)
    if terminal is None or environ.get("TERM") == "dumb":
        return "log", None
    return "live", terminal


class LineProxy(io.TextIOBase):
    """Stands in for ``sys.stdout`` or ``sys.stderr`` while the live display is up.

    Each complete line is printed through the display's console, so above the display, with its
    ANSI colours and without re-wrapping (the terminal wraps a long line itself, so a copied log
    line stays one line). A partial line waits for its end or for ``flush``. Anything else
    (``fileno``, ``encoding``, ...) is the original stream's.
    """

    def __init__(self, console: Console, original: TextIO) -> None:
        super().__init__()
        self.console = console
        self.original = original
        self._pending = ""
        self._lock = threading.Lock()
        self._decoder = AnsiDecoder()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)

    # io.TextIOBase answers None for these two; typeshed declares them plain attributes.
    @property
    def encoding(self) -> Any:  # type: ignore[override]
        """The original stream's encoding."""
        return self.original.encoding

    @property
    def errors(self) -> Any:  # type: ignore[override]
        """The original stream's error handler."""
        return self.original.errors

    def write(self, text: str) -> int:
        """Print the complete lines of ``pending + text``; keep the rest."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            done, newline, rest = (self._pending + text).rpartition("\n")
            self._pending = rest
            if newline:
                self._print(done)
        return len(text)

    def flush(self) -> None:
        """Print a pending partial line."""
        with self._lock:
            pending, self._pending = self._pending, ""
            if pending:
                self._print(pending)

    def isatty(self) -> bool:
        """The original stream's answer."""
        return is_terminal(self.original)

    def fileno(self) -> int:
        """The original stream's descriptor."""
        return self.original.fileno()

    def _print(self, text: str) -> None:
        lines = Text("\n").join(self._decoder.decode_line(line) for line in text.split("\n"))
        self.console.print(lines, soft_wrap=True)


class LiveDisplay:
    """A rich ``Live`` region on ``stream``, redrawn in place by ``show``.

    ``redirect_stdout``/``redirect_stderr``: while it runs, ``sys.stdout``/``sys.stderr`` are
    ``LineProxy`` objects printing above the region. Every method may block on terminal I/O:
    the plugin calls them through ``asyncio.to_thread``; rich serialises them with the writes
    of other threads.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        redirect_stdout: bool,
        redirect_stderr: bool,
        width: int | None = None,
    ) -> None:
        self.console = Console(file=stream, force_terminal=True, width=width)
        self.live = Live(
            Text("tradeloop status: starting", style="dim"),
            console=self.console,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
            transient=False,
        )
        self._redirect = [
            name
            for name, wanted in (("stdout", redirect_stdout), ("stderr", redirect_stderr))
            if wanted
        ]
        self._proxies: list[tuple[str, LineProxy]] = []

    def start(self) -> None:
        """Redirect the terminal streams, then draw the placeholder (on failure: undone)."""
        for name in self._redirect:
            proxy = LineProxy(self.console, getattr(sys, name))
            setattr(sys, name, proxy)
            self._proxies.append((name, proxy))
        try:
            self.live.start(refresh=True)
        except BaseException:
            with contextlib.suppress(Exception):
                self.live.stop()
            self._restore()
            raise

    def show(self, renderable: RenderableType) -> None:
        """Replace the display with ``renderable``."""
        self.live.update(renderable, refresh=True)

    def stop(self, last: RenderableType | None = None) -> None:
        """Draw ``last`` (if given) and leave it on screen; then restore the streams."""
        try:
            if last is not None:
                self.live.update(last)
            self.live.stop()
        finally:
            self._restore()

    def _restore(self) -> None:
        while self._proxies:
            name, proxy = self._proxies.pop()
            if getattr(sys, name) is proxy:
                setattr(sys, name, proxy.original)
            with contextlib.suppress(Exception):
                proxy.flush()  # a pending partial line still reaches the terminal
