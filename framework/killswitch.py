"""The kill switch: account-level limits that hold every strategy and cancel (or flatten).

The core measures the account's equity in ``kill_switch.asset`` (wallet balance plus the
unrealized PnL of every position at the last tick's mid) on every account event and every
``kill_switch.check_interval`` seconds, keeps the UTC day's starting and peak equity, and trips
when the day's loss, the drawdown from the day's peak or the open notional reaches its limit.
A trip holds every strategy, cancels every open order (and, with ``close_positions``, closes
every position; ``framework.flatten``), is announced through ``on_kill_switch`` and is kept in
``<runtime.data_dir>/kill_switch.json`` so it survives a restart until ``tradeloop resume``
clears it (also while the bot runs: the file is read again on every check while tripped).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from loguru import logger

from framework.errors import EXIT_USAGE, TradeloopError
from framework.flatten import FlattenResult, flatten_account
from framework.settings import KillSwitchSettings, Settings
from framework.types import KillSwitchLimit, KillSwitchResume, KillSwitchTrip

if TYPE_CHECKING:
    from framework.context import BotContext

STATE_FILE = "kill_switch.json"
SAVE_EVERY = 10.0
"""Seconds between saves of a new peak equity (a new day and a trip are saved at once)."""
ZERO = Decimal(0)


class KillSwitchState(msgspec.Struct, kw_only=True):
    """What ``kill_switch.json`` keeps: the day's baseline and the trip in force, if any.

    ``rebase``: set by ``tradeloop resume``; the next reading starts the day's figures anew.
    ``cleared``: the last clearing, until a bot saved the state after announcing it
    (``on_kill_switch_resume``): a ``tradeloop resume`` while no bot runs is announced by the
    next one.
    """

    asset: str = ""
    day: str = ""
    day_start: Decimal | None = None
    peak: Decimal | None = None
    trip: KillSwitchTrip | None = None
    rebase: bool = False
    cleared: KillSwitchResume | None = None


class KillSwitchStateError(TradeloopError):
    """``kill_switch.json`` cannot be read: the bot does not start (exit 2) rather than
    forget a trip."""

    exit_code = EXIT_USAGE


def state_path(settings: Settings) -> Path:
    """Where the kill switch keeps its state: ``<runtime.data_dir>/kill_switch.json``."""
    return Path(settings.runtime.data_dir) / STATE_FILE


def read_state(path: Path) -> KillSwitchState:
    """The saved state, or an empty one if there is no file; ``KillSwitchStateError`` if the
    file is damaged (naming it)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return KillSwitchState()
    except OSError as exc:
        raise KillSwitchStateError(f"kill switch state {path} cannot be read: {exc}") from None
    try:
        return msgspec.json.decode(data, type=KillSwitchState)
    except msgspec.DecodeError as exc:
        raise KillSwitchStateError(
            f"kill switch state {path} is damaged ({exc}); check it, then delete it or run "
            "`tradeloop resume` to start the kill switch afresh"
        ) from None


def write_state(path: Path, state: KillSwitchState) -> None:
    """Write ``state`` atomically (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(msgspec.json.encode(state))
    os.replace(tmp, path)


def clear_trip(
    path: Path, at: float | None = None, by: str = "tradeloop resume"
) -> KillSwitchTrip | None:
    """Clear the trip saved at ``path`` (``tradeloop resume``, at epoch seconds ``at``, now
    when not given); the trip cleared, or ``None``.

    The day's figures start anew from the next reading, so the loss that tripped it does not
    trip it again at once. The clearing is kept in the file (``cleared``) for a bot to
    announce: the running one at its next check, else the next one to start.
    """
    state = read_state(path)
    if state.trip is None:
        return None
    when = time.time() if at is None else at
    cleared = KillSwitchResume(trip=state.trip, at=when, by=by)
    write_state(path, KillSwitchState(asset=state.asset, rebase=True, cleared=cleared))
    return state.trip


def reset_state(path: Path) -> None:
    """Replace a damaged state file by a cleared one (``tradeloop resume``)."""
    write_state(path, KillSwitchState(rebase=True))


def utc_day(seconds: float) -> str:
    """The UTC date of an epoch time, ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


@dataclass(frozen=True, slots=True)
class AccountRisk:
    """One reading of the account: equity, the day's figures and the open notional."""

    asset: str
    at: float
    wallet: Decimal
    unrealized: Decimal
    day: str
    day_start: Decimal
    peak: Decimal
    open_notional: Decimal

    @property
    def equity(self) -> Decimal:
        """Wallet balance plus unrealized PnL."""
        return self.wallet + self.unrealized

    @property
    def day_pnl(self) -> Decimal:
        """Equity now minus the day's starting equity (negative: a loss)."""
        return self.equity - self.day_start

    @property
    def drawdown(self) -> Decimal:
        """Equity's fall from the day's peak, as a fraction of the peak (0 at the peak)."""
        if self.peak <= 0:
            return ZERO
        return max(ZERO, (self.peak - self.equity) / self.peak)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (amounts as strings)."""
        return {
            "asset": self.asset,
            "at": self.at,
            "equity": str(self.equity),
            "wallet": str(self.wallet),
            "unrealized_pnl": str(self.unrealized),
            "day": self.day,
            "day_start_equity": str(self.day_start),
            "day_peak_equity": str(self.peak),
            "day_pnl": str(self.day_pnl),
            "drawdown": str(self.drawdown.quantize(Decimal("0.000001"))),
            "open_notional": str(self.open_notional),
        }


def trip_dict(trip: KillSwitchTrip) -> dict[str, Any]:
    """A trip as plain data (for the run summary, the HTTP API, the journal)."""
    return {
        "limit": trip.limit,
        "value": str(trip.value),
        "threshold": str(trip.threshold),
        "asset": trip.asset,
        "at": trip.at,
        "actions": list(trip.actions),
        "reason": trip.describe(),
    }


class KillSwitch:
    """The bot's kill switch (``ctx.kill_switch``): measures, trips, holds, keeps the trip."""

    def __init__(self, ctx: BotContext) -> None:
        self._ctx = ctx
        self.settings: KillSwitchSettings = ctx.settings.kill_switch
        self.path = state_path(ctx.settings)
        self._state = KillSwitchState(asset=self.settings.asset)
        self._risk: AccountRisk | None = None
        self._release: Callable[[], None] | None = None
        self._saved_trip = False  # our trip is in the file (so a cleared file means resume)
        self._announced = False  # a clearing was announced: the file drops it at the next save
        self._pending = False
        self._last_save = 0.0
        self._dirty = False
        self._saving: asyncio.Task[None] | None = None
        # Without a limit, account events are not checked (the periodic reading remains).
        self._limited = self.settings.any_limit
        self._day_number = -1
        self._day = ""
        self._armed = False  # trips only once the bot has started (the exchange is known)
        self.trips = 0
        self.checks = 0
        # Quiet: a check found the same figures as the one before; the periodic check then
        # waits for the next tick or account event instead of re-reading unchanged figures.
        self._quiet: asyncio.Future[None] | None = None
        self._quiet_equity: Decimal | None = None  # the equity the quiet wait began with
        self._woke_at = 0.0

    # ---------------------------------------------------------------------- reading

    @property
    def trip(self) -> KillSwitchTrip | None:
        """The trip in force (this run's, or one that survived a restart), or ``None``."""
        return self._state.trip

    @property
    def tripped(self) -> bool:
        """True while a trip is in force."""
        return self._state.trip is not None

    @property
    def risk(self) -> AccountRisk | None:
        """The last reading of the account, or ``None`` before the asset's balance is known.

        While the periodic check waits for a change the reading still holds: its ``at`` is
        the clock's time (within the reading's UTC day)."""
        risk = self._risk
        if risk is None or self._quiet is None:
            return risk
        now = self._ctx.clock.time()
        if now <= risk.at or int(now // 86_400) != int(risk.at // 86_400):
            return risk
        return dataclasses.replace(risk, at=now)

    def status(self) -> dict[str, Any]:
        """Plain data: limits, the trip in force and the last reading."""
        s = self.settings
        return {
            "tripped": self.tripped,
            "trip": trip_dict(self._state.trip) if self._state.trip is not None else None,
            "limits": {
                "max_daily_loss": _text(s.max_daily_loss),
                "max_drawdown": _text(s.max_drawdown),
                "max_open_notional": _text(s.max_open_notional),
                "close_positions": s.close_positions,
            },
            "account": self._risk.as_dict() if self._risk is not None else None,
        }

    # --------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Load the saved state (the core, at start); a saved trip holds strategies at once."""
        state = read_state(self.path)
        if state.asset and state.asset != self.settings.asset:
            state = KillSwitchState(trip=state.trip)  # another asset's figures do not carry over
        state.asset = self.settings.asset
        self._state = state
        if state.trip is not None:
            state.cleared = None  # tripped again since: that clearing is history
            self._saved_trip = True
            self._hold(state.trip)
            logger.bind(log_key="kill_switch").error(
                "kill switch still tripped since {}: {}; strategies stay held until "
                "`tradeloop resume`",
                datetime.fromtimestamp(state.trip.at, UTC).isoformat(timespec="seconds"),
                state.trip.describe(),
            )

    def arm(self) -> None:
        """Let limits trip from now on (the core, once the exchange connector is known and
        every plugin started); announce a clearing no bot announced yet (kept for a bot whose
        plugins listen: ``tradeloop flatten``'s bare bot leaves it)."""
        self._armed = True
        cleared = self._state.cleared
        if cleared is not None and self._ctx.hook_implementers("on_kill_switch_resume"):
            logger.bind(log_key="kill_switch").warning(
                "kill switch was cleared by {} at {} (was: {})",
                cleared.by,
                datetime.fromtimestamp(cleared.at, UTC).isoformat(timespec="seconds"),
                cleared.trip.describe(),
            )
            self._announce(cleared)
        self._wake()

    async def run(self) -> None:
        """Check every ``check_interval`` seconds on the bot's clock until cancelled (the
        core runs it as its task ``core:kill_switch``); a failing check is logged, never ends
        the loop."""
        clock = self._ctx.clock
        interval = self.settings.check_interval
        due = clock.time()
        while True:
            # On the same schedule as without waits: the next multiple of the interval.
            now = clock.time()
            due += interval * max(1, math.ceil((now - due) / interval))
            await clock.sleep(due - now)
            before = self._risk
            try:
                await self.check()
            except Exception as exc:  # noqa: BLE001 - the next check still runs
                logger.opt(exception=exc).error("kill switch check failed: {!r}", exc)
                continue
            if self._unchanged(before, self._risk):
                await self._wait_for_change()

    def _unchanged(self, before: AccountRisk | None, after: AccountRisk | None) -> bool:
        """True when a check can wait for a change: not tripped (the saved trip is read
        again on every check), nothing left to save, and the same figures as the check
        before (the same prices and account give the same reading until a tick or an account
        event comes)."""
        if before is None or after is None or self.tripped:
            return False
        if self._dirty and self.settings.any_limit:
            return False
        return (
            before.wallet == after.wallet
            and before.unrealized == after.unrealized
            and before.open_notional == after.open_notional
            and before.day == after.day
        )

    async def _wait_for_change(self) -> None:
        """Wait until the next tick or account event (or ``arm``), then check on schedule."""
        risk = self._risk
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._quiet = future
        self._quiet_equity = risk.equity if risk is not None else None
        self._ctx.hooks.tick_listener = self._wake
        try:
            await future
        finally:
            self._quiet = None
            self._ctx.hooks.tick_listener = None

    def _wake(self) -> None:
        """End a quiet wait (a tick, an account event)."""
        future = self._quiet
        if future is not None:
            self._quiet = None
            self._ctx.hooks.tick_listener = None
            self._woke_at = self._ctx.clock.time()
            if not future.done():
                future.set_result(None)

    def stop(self) -> None:
        """Save the day's figures (the core, at stop); nothing is written while no limit is
        set, nothing is tripped and no clearing was announced."""
        if self._dirty and (self.settings.any_limit or self.tripped or self._announced):
            self._save_now()

    def summary(self) -> dict[str, Any]:
        """The run summary's ``kill_switch`` section."""
        return {**self.status(), "trips": self.trips, "checks": self.checks}

    # ----------------------------------------------------------------------- checks

    def account_changed(self) -> None:
        """A balance or position changed (the hooks facade calls it): check soon, once per
        burst of events; nothing while no limit is set."""
        if self._quiet is not None:
            self._wake()
        if self._pending or not self._limited:
            return
        self._pending = True
        try:
            asyncio.get_running_loop().call_soon(self._check_pending)
        except RuntimeError:  # no loop (tests of the cache alone): check now
            self._check_pending()

    def _check_pending(self) -> None:
        self._pending = False
        self.evaluate()

    async def check(self) -> None:
        """The periodic check: measure and compare; while tripped, see whether ``tradeloop
        resume`` cleared the saved trip. Saves run beside it, never holding the next check."""
        self.evaluate()
        if self.tripped:
            if self._saved_trip:
                await self._notice_resume()
            return
        if not self.settings.any_limit:
            return
        if self._dirty and self._ctx.clock.time() - self._last_save >= SAVE_EVERY:
            if self._saving is None or self._saving.done():
                self._saving = self._ctx.spawn(self._save(), name="kill_switch_save", owner="core")

    def evaluate(self) -> AccountRisk | None:
        """Measure the account now and trip if a limit is reached; the reading."""
        risk = self._measure()
        if risk is None:
            return None
        self.checks += 1
        self._risk = risk
        if self.tripped or not self._armed:
            return risk
        found = self._breach(risk)
        if found is not None:
            self._trip(*found)
        return risk

    def _measure(self) -> AccountRisk | None:
        ctx = self._ctx
        asset = self.settings.asset
        balance = ctx.cache.balances.get(asset)
        if balance is None:
            return None
        ticks = ctx.last_ticks
        unrealized = ZERO
        notional = ZERO
        for position in ctx.cache.positions.values():
            amount = position.amount
            if not amount or not position.symbol.endswith(asset):
                continue
            tick = ticks.get(position.symbol)
            if tick is None:
                unrealized += position.unrealized_pnl
                notional += abs(amount) * position.entry_price
                continue
            mark = tick.mid
            unrealized += amount * (mark - position.entry_price)
            notional += abs(amount) * mark
        now = ctx.clock.time()
        wallet = balance.wallet_balance
        equity = wallet + unrealized
        day_number = int(now // 86_400)
        if day_number != self._day_number:
            self._day_number, self._day = day_number, utc_day(now)
        day = self._day
        state = self._state
        quiet, self._quiet_equity = self._quiet_equity, None
        if state.rebase or state.day != day or state.day_start is None or state.peak is None:
            start = equity
            if quiet is not None and not state.rebase and self._woke_at >= day_number * 86_400:
                # Nothing changed from the quiet wait's start until after midnight: the day
                # began at the equity the wait began with, as a check at midnight would read.
                start = quiet
            state.day, state.day_start, state.rebase = day, start, False
            state.peak = max(start, equity)
            self._dirty = True
            self._last_save = 0.0  # a new day is saved at the next check
        elif equity > state.peak:
            state.peak = equity
            self._dirty = True
        return AccountRisk(
            asset=asset,
            at=now,
            wallet=wallet,
            unrealized=unrealized,
            day=day,
            day_start=state.day_start,
            peak=state.peak,
            open_notional=notional,
        )

    def _breach(self, risk: AccountRisk) -> tuple[KillSwitchLimit, Decimal, Decimal] | None:
        s = self.settings
        loss = -risk.day_pnl
        if s.max_daily_loss is not None and loss >= s.max_daily_loss:
            return "daily_loss", loss, s.max_daily_loss
        if s.max_drawdown is not None and risk.peak > 0 and risk.drawdown >= s.max_drawdown:
            return "drawdown", risk.drawdown, s.max_drawdown
        if s.max_open_notional is not None and risk.open_notional >= s.max_open_notional:
            return "open_notional", risk.open_notional, s.max_open_notional
        return None

    # ------------------------------------------------------------------------- trip

    def _trip(self, limit: KillSwitchLimit, value: Decimal, threshold: Decimal) -> None:
        ctx = self._ctx
        trip = KillSwitchTrip(
            limit=limit,
            value=value,
            threshold=threshold,
            at=ctx.clock.time(),
            actions=("strategies held",),
            asset=self.settings.asset,
        )
        self.trips += 1
        self._state.trip = trip
        self._hold(trip)
        logger.bind(log_key="kill_switch").critical(
            "KILL SWITCH TRIPPED: {}; strategies held, {}",
            trip.describe(),
            "cancelling orders and closing positions"
            if self.settings.close_positions
            else "cancelling orders",
        )
        ctx.spawn(self._act(trip), name="kill_switch", owner="core")

    def _hold(self, trip: KillSwitchTrip) -> None:
        if self._release is None:
            self._release = self._ctx.hold_strategies(f"kill switch: {trip.describe()}")

    async def _act(self, trip: KillSwitchTrip) -> None:
        """Save the trip, cancel (and close), then save and announce it with its actions."""
        await self._save()
        self._saved_trip = True
        ctx = self._ctx
        actions = list(trip.actions)
        if ctx.has_exchange:
            result = await flatten_account(
                ctx,
                reason=f"kill switch: {trip.describe()}",
                close_positions=self.settings.close_positions,
            )
            actions.extend(_action_lines(result, close=self.settings.close_positions))
        else:
            actions.append("no exchange connector: nothing cancelled")
        final = dataclasses.replace(trip, actions=tuple(actions))
        if self._state.trip is trip:  # not resumed meanwhile
            self._state.trip = final
            await self._save()
        logger.bind(log_key="kill_switch").error(
            "kill switch actions: {}", "; ".join(final.actions)
        )
        ctx.hooks.on_kill_switch(final)

    def resume(self, by: str = "operator") -> KillSwitchTrip | None:
        """Clear the trip in force and release the strategies; the trip cleared, or ``None``."""
        trip = self._state.trip
        if trip is None:
            return None
        cleared = KillSwitchResume(trip=trip, at=self._ctx.clock.time(), by=by)
        self._state = KillSwitchState(asset=self.settings.asset, rebase=True, cleared=cleared)
        self._save_now()
        self._cleared(cleared)
        return trip

    async def _notice_resume(self) -> None:
        try:
            saved = await asyncio.to_thread(read_state, self.path)
        except KillSwitchStateError as exc:
            logger.warning("{}", exc)
            return
        trip = self._state.trip
        if saved.trip is None and trip is not None:
            cleared = saved.cleared
            if cleared is None or cleared.trip != trip:  # a file cleared by hand
                cleared = KillSwitchResume(
                    trip=trip, at=self._ctx.clock.time(), by="tradeloop resume"
                )
            self._state = KillSwitchState(asset=self.settings.asset, rebase=True, cleared=cleared)
            self._cleared(cleared)

    def _cleared(self, cleared: KillSwitchResume) -> None:
        self._saved_trip = False
        release, self._release = self._release, None
        logger.bind(log_key="kill_switch").warning(
            "kill switch cleared by {} (was: {}); the day's figures start anew",
            cleared.by,
            cleared.trip.describe(),
        )
        if release is not None:
            release()
        self._announce(cleared)

    def _announce(self, cleared: KillSwitchResume) -> None:
        """``on_kill_switch_resume``; the file keeps the clearing until the next save, so a
        bot killed before then announces it again at its next start."""
        self._ctx.hooks.on_kill_switch_resume(cleared)
        self._state.cleared = None
        self._announced = True
        self._dirty = True

    # ----------------------------------------------------------------------- saving

    async def _save(self) -> None:
        state = msgspec.structs.replace(self._state)
        self._dirty = False
        self._last_save = self._ctx.clock.time()
        try:
            await asyncio.to_thread(write_state, self.path, state)
        except OSError as exc:
            logger.error("kill switch state could not be saved to {}: {}", self.path, exc)

    def _save_now(self) -> None:
        self._dirty = False
        self._last_save = self._ctx.clock.time()
        try:
            write_state(self.path, self._state)
        except OSError as exc:
            logger.error("kill switch state could not be saved to {}: {}", self.path, exc)


def _action_lines(result: FlattenResult, *, close: bool) -> list[str]:
    lines = [f"{len(result.cancelled)} open orders cancelled"]
    if close:
        lines.append(f"{len(result.closed)} positions closed (reduce-only MARKET)")
    lines.extend(line for line in result.lines() if line.startswith("FAILED"))
    return lines


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
