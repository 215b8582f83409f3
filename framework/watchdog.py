"""The loop watchdog: notices when the event loop was blocked, and names what blocked it.

Two parts, neither on the hot path:

* a cheap periodic task (``LoopWatchdog.run``) that measures how late it wakes: a wakeup at
  least ``threshold`` late is a stall;
* a sampler thread (``LoopWatchdog.start_sampler``) that looks at the loop thread while a
  wakeup is overdue: the plugin and hook the bus is calling (``framework.bus.call_in_frame``,
  read from the stack, so the bus records nothing per call), the running asyncio task, and
  the innermost frame. When the stall ends, the task names it with that sample; without one
  (the blocking call held the GIL, or the thread was not scheduled in time) it falls back to
  the bus's last call that overran its budget within the stall.

Each stall is logged with what was running, counted per plugin (``stalls_by_plugin``), and
kept among the last ``RECENT_STALLS`` for the run summary.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from loguru import logger

from framework.bus import SlowCall, call_in_frame

RECENT_STALLS = 20
SAMPLE_AT = 0.5
"""The sampler looks at the loop thread once a wakeup is this fraction of the threshold late."""


@dataclass(frozen=True, slots=True)
class LoopLag:
    """A read-only snapshot of the watchdog's measurements (seconds, loop monotonic clock)."""

    current: float
    """How late the last wakeup was."""
    max: float
    """The latest wakeup so far."""
    stalls: int
    """Wakeups at least ``stall_threshold`` late."""
    longest_stall: float
    """The longest stall so far (0 before the first)."""
    stalled: float
    """Seconds lost to stalls in total."""
    stall_threshold: float
    """``runtime.loop_stall_warning``."""
    wakeups: int
    stalls_by_plugin: Mapping[str, int] = field(default_factory=dict)
    """Stalls named after the plugin that was running, per plugin (unnamed ones not listed)."""
    stalled_by_plugin: Mapping[str, float] = field(default_factory=dict)
    """Seconds of those stalls, per plugin."""


@dataclass(frozen=True, slots=True)
class Stall:
    """One stall and what was running during it (each part ``None`` where not known)."""

    seconds: float
    plugin: str | None = None
    """The plugin that was running: the one the bus was calling, or the owner of the task."""
    hook: str | None = None
    """The hook the bus was calling it for."""
    task: str | None = None
    """The asyncio task that was running."""
    where: str | None = None
    """The innermost frame on the loop thread: ``file:line in function``."""

    def describe(self) -> str:
        """What was running, for the log line."""
        parts = []
        if self.plugin is not None:
            parts.append(f"in plugin {self.plugin!r}")
        if self.hook is not None:
            parts.append(f"hook {self.hook}")
        if self.task is not None:
            parts.append(f"task {self.task!r}")
        if self.where is not None:
            parts.append(f"at {self.where}")
        return ", ".join(parts) if parts else "cause not seen"

    def as_dict(self) -> dict[str, Any]:
        """For the run summary."""
        return {
            "seconds": round(self.seconds, 3),
            "plugin": self.plugin,
            "hook": self.hook,
            "task": self.task,
            "where": self.where,
        }


TASK_PREFIXES = ("tradeloop-plugin:", "tradeloop-job:")
"""Names of the core's tasks run for a plugin: the bus's worker, a scheduled job."""


def plugin_of_task(name: str, plugins: Iterable[str]) -> str | None:
    """The plugin a task runs for, from its name: a bus worker (``tradeloop-plugin:P``), a job
    (``tradeloop-job:P.job``) or a task spawned through ``ctx.spawn`` (``P:name``)."""
    for prefix in TASK_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    best = None
    for plugin in plugins:
        if (name == plugin or name.startswith((plugin + ":", plugin + "."))) and (
            best is None or len(plugin) > len(best)
        ):
            best = plugin
    return best


def _where(frame: FrameType) -> str:
    code = frame.f_code
    return f"{Path(code.co_filename).name}:{frame.f_lineno} in {code.co_name}"


class LoopWatchdog:
    """Wakes every ``interval`` seconds and measures how late it woke.

    A wakeup ``threshold`` seconds or more late means something blocked the loop that long
    (a synchronous call, a large decode, a paused process): it is logged as a warning with the
    stall's length and what was running, and counted. Measured on the loop's monotonic clock,
    never the bot's ``Clock`` (a ``ManualClock`` does not move while the loop is blocked).

    Until ``started()`` (the bot has started), a late wakeup is the start itself (plugins
    import their libraries and open their first connections on the loop): it is logged at
    INFO and added to ``blocked_at_start``, not counted as a stall.
    """

    def __init__(
        self,
        interval: float,
        threshold: float,
        *,
        plugins: Callable[[], Iterable[str]] = tuple,
        last_overrun: Callable[[], SlowCall | None] = lambda: None,
    ) -> None:
        self.interval = interval
        self.threshold = threshold
        self.wakeups = 0
        self.stalls = 0
        self.longest = 0.0
        self.total = 0.0
        self.last_lag = 0.0
        self.max_lag = 0.0
        self.starting = True
        self.blocked_at_start = 0.0
        self.stalls_by_plugin: Counter[str] = Counter()
        self.stalled_by_plugin: dict[str, float] = {}
        self.recent: deque[Stall] = deque(maxlen=RECENT_STALLS)
        self._plugins = plugins
        self._last_overrun = last_overrun
        # Written by the loop (each wakeup) and read by the sampler thread; a sample is kept
        # with the wakeup count it was taken under, so a stale one is never used.
        self._beat = time.monotonic()
        self._beats = 0
        self._sample: tuple[int, Stall] | None = None
        self._sampler: threading.Thread | None = None
        self._sampler_stop = threading.Event()

    def started(self) -> None:
        """The bot has started: from now on a late wakeup is a stall."""
        self.starting = False

    async def run(self) -> None:
        """Watch until cancelled."""
        loop = asyncio.get_running_loop()
        interval = self.interval
        while True:
            before = loop.time()
            self._beat = time.monotonic()  # before the count: the sampler reads them in turn
            self._beats += 1
            await asyncio.sleep(interval)
            late = loop.time() - before - interval
            self.wakeups += 1
            self.last_lag = late
            if late > self.max_lag:
                self.max_lag = late
            if late >= self.threshold:
                if self.starting:
                    self._blocked_while_starting(late)
                else:
                    self.stalled(late, self._cause(late))

    # ------------------------------------------------------------------------ sampler

    def start_sampler(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the thread that looks at ``loop``'s thread (the calling one) while a wakeup
        is overdue. Stopped by ``stop_sampler``."""
        if self._sampler is not None:
            return
        self._sampler_stop.clear()
        thread_id = threading.get_ident()
        self._sampler = threading.Thread(
            target=self._sample_loop,
            args=(loop, thread_id),
            name="tradeloop-loop-sampler",
            daemon=True,
        )
        self._sampler.start()

    def stop_sampler(self) -> None:
        """Stop the sampler thread and wait for it (it wakes at least every ``interval``)."""
        thread, self._sampler = self._sampler, None
        if thread is not None:
            self._sampler_stop.set()
            thread.join(timeout=max(1.0, 2 * self.interval))

    def _sample_loop(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None:
        period = min(self.interval, self.threshold * SAMPLE_AT / 2)
        while not self._sampler_stop.wait(period):
            beats = self._beats
            overdue = time.monotonic() - self._beat - self.interval
            sample = self._sample
            if overdue >= self.threshold * SAMPLE_AT and (sample is None or sample[0] != beats):
                self._sample = (beats, self._running(loop, thread_id))

    def _running(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> Stall:
        """What the loop thread is running now (called from the sampler thread)."""
        frame = sys._current_frames().get(thread_id)
        plugin = hook = where = None
        if frame is not None:
            where = _where(frame)
            f: FrameType | None = frame
            while f is not None:
                found = call_in_frame(f)
                if found is not None:
                    plugin, hook = found
                    break
                f = f.f_back
        task = asyncio.current_task(loop)
        task_name = task.get_name() if task is not None else None
        if plugin is None and task_name is not None:
            plugin = plugin_of_task(task_name, self._plugins())
        return Stall(0.0, plugin, hook, task_name, where)

    def _cause(self, seconds: float) -> Stall:
        """What ran during the stall that just ended: the sampler's look at it, else the bus's
        last overrun if it ended within the stall."""
        sample = self._sample
        if sample is not None and sample[0] == self._beats:
            seen = sample[1]
            return Stall(seconds, seen.plugin, seen.hook, seen.task, seen.where)
        slow = self._last_overrun()
        if slow is not None and slow.ended >= time.monotonic() - seconds - self.interval:
            return Stall(seconds, slow.plugin, slow.hook)
        return Stall(seconds)

    # ----------------------------------------------------------------------- counting

    def _blocked_while_starting(self, seconds: float) -> None:
        self.blocked_at_start += seconds
        logger.bind(log_key="loop_stall").info(
            "starting: the event loop was blocked for {:.3f} s (plugins importing their "
            "libraries and opening connections); stalls are counted once the bot has started",
            seconds,
        )

    def stalled(self, seconds: float, cause: Stall | None = None) -> None:
        """Count and log one stall of ``seconds`` (``cause``: what was running)."""
        cause = cause or Stall(seconds)
        self.stalls += 1
        self.total += seconds
        self.longest = max(self.longest, seconds)
        if cause.plugin is not None:
            self.stalls_by_plugin[cause.plugin] += 1
            self.stalled_by_plugin[cause.plugin] = (
                self.stalled_by_plugin.get(cause.plugin, 0.0) + seconds
            )
        self.recent.append(cause)
        logger.bind(log_key="loop_stall", plugin=cause.plugin or "").warning(
            "event loop stalled for {:.3f} s ({}; blocking work on the loop; ticks older than "
            "runtime.max_tick_age are dropped)",
            seconds,
            cause.describe(),
        )

    def snapshot(self) -> LoopLag:
        """The measurements so far."""
        return LoopLag(
            current=self.last_lag,
            max=self.max_lag,
            stalls=self.stalls,
            longest_stall=self.longest,
            stalled=self.total,
            stall_threshold=self.threshold,
            wakeups=self.wakeups,
            stalls_by_plugin=dict(self.stalls_by_plugin),
            stalled_by_plugin=dict(self.stalled_by_plugin),
        )

    def stats(self) -> dict[str, Any]:
        """The ``loop`` section of the run summary."""
        return {
            "stalls": self.stalls,
            "longest_stall_s": round(self.longest, 3),
            "stalled_s": round(self.total, 3),
            "stall_warning_s": self.threshold,
            "blocked_at_start_s": round(self.blocked_at_start, 3),
            "stalls_by_plugin": dict(self.stalls_by_plugin),
            "stalled_s_by_plugin": {p: round(s, 3) for p, s in self.stalled_by_plugin.items()},
            "recent_stalls": [stall.as_dict() for stall in self.recent],
        }
