"""The operator's commands, one layer every front end (HTTP, Telegram) shares.

A front end authenticates the sender, then hands the command line and who sent it to
``RemoteControl.execute``; it implements no command itself. Each command is parsed here,
answered with a ``Reply`` (text for a person, ``data`` for a program), logged and emitted as
``on_command`` (the journal records it). See ``docs/operations.md#remote-control``.

Commands: ``status``, ``balance``, ``positions``, ``pause <strategy>``, ``resume
<strategy>``, ``reconcile``, ``flatten`` (then ``flatten <code>`` within ``confirm_within``
seconds, from the same sender), ``stop`` and ``help``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loguru import logger

from framework.flatten import FlattenResult, flatten_account
from framework.redact import Redactor
from framework.settings import secret_values
from framework.strategy import STRATEGY_PREFIX
from framework.types import CommandRecord

if TYPE_CHECKING:
    from framework.context import BotContext

MAX_LINE = 200
"""Longest command line accepted (characters)."""
CONFIRM_WITHIN = 60.0
"""Seconds a flatten confirmation code stays valid."""
MAX_OUTCOME = 1000
"""Longest outcome text kept in the ``CommandRecord``."""


@dataclass(frozen=True)
class Caller:
    """Who sent a command: the front end (``http``, ``telegram``) and the sender there (a
    token's label, ``chat:<id>``). Never a secret: it is logged and journaled."""

    source: str
    identity: str

    def __str__(self) -> str:
        return f"{self.source}:{self.identity}"


@dataclass(frozen=True)
class Reply:
    """A command's answer: ``ok``, ``text`` for a person, ``data`` (JSON-ready) for a
    program. ``malformed`` is True when the line did not parse (HTTP answers 400)."""

    ok: bool
    command: str
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)
    malformed: bool = False


class CommandFailed(Exception):
    """A command could not do what was asked; the message is for the operator."""


class Malformed(CommandFailed):
    """The command line does not parse (unknown command, wrong arguments)."""


@dataclass
class _Pending:
    code: str
    expires: float


@dataclass(frozen=True)
class _Spec:
    usage: str
    help: str
    args: tuple[int, int]  # how many arguments, at least and at most
    run: Callable[[RemoteControl, Caller, list[str]], Awaitable[Reply]]
    exclusive: bool = False  # waits on the exchange: one such command at a time


class RemoteControl:
    """Parses and runs operator commands against the bot (``ctx.remote_control()``)."""

    def __init__(self, ctx: BotContext, *, confirm_within: float = CONFIRM_WITHIN) -> None:
        self.ctx = ctx
        self.confirm_within = confirm_within
        self._pending: dict[Caller, _Pending] = {}
        self._running: str | None = None  # the exclusive command under way
        self.counts: dict[str, int] = {}  # commands handled, by name ("" for malformed)
        # A secret pasted into a command by mistake is never echoed, logged or journaled.
        self._secrets = secret_values(ctx.settings.as_dict())
        self._redact = Redactor(self._secrets)

    def mask(self, *secrets: str) -> None:
        """Also mask these values (a front end's own token) in commands and replies."""
        self._secrets.extend(s for s in secrets if s)
        self._redact = Redactor(self._secrets)

    async def execute(self, line: str, caller: Caller) -> Reply:
        """Parse and run one command line from ``caller``; never raises."""
        name, args = "", list[str]()
        try:
            name, args, spec = self._parse(self._redact(line) if isinstance(line, str) else line)
            if spec.exclusive and self._running is not None:
                raise CommandFailed(f"busy: {self._running} is still running; try again soon")
            if spec.exclusive:
                self._running = name
            try:
                reply = await spec.run(self, caller, args)
            finally:
                if spec.exclusive:
                    self._running = None
        except Malformed as exc:
            reply = Reply(False, name, str(exc), malformed=True)
        except CommandFailed as exc:
            reply = Reply(False, name, str(exc))
        except Exception as exc:  # noqa: BLE001 - a command must never take the bot down
            logger.opt(exception=exc).error("remote command {!r} from {} failed", name, caller)
            reply = Reply(False, name, f"{name} failed ({type(exc).__name__}); see the log")
        reply = replace(reply, text=self._redact(reply.text))
        self._record(caller, name, args, reply)
        return reply

    def _parse(self, line: str) -> tuple[str, list[str], _Spec]:
        if not isinstance(line, str) or not line.strip():
            raise Malformed(f"empty command; commands: {', '.join(COMMANDS)}")
        if len(line) > MAX_LINE:
            raise Malformed(f"command longer than {MAX_LINE} characters")
        if not line.isprintable():
            raise Malformed("command contains control characters")
        words = line.split()
        name = words[0].lstrip("/").split("@", 1)[0].lower()  # Telegram: /pause@my_bot
        spec = COMMANDS.get(name)
        if spec is None:
            raise Malformed(f"unknown command {name[:40]!r}; commands: {', '.join(COMMANDS)}")
        args = words[1:]
        low, high = spec.args
        if not low <= len(args) <= high:
            raise Malformed(f"usage: {spec.usage}")
        return name, args, spec

    def _record(self, caller: Caller, name: str, args: list[str], reply: Reply) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        shown = ("<code>",) if name == "flatten" and args else tuple(a[:64] for a in args)
        outcome = reply.text if len(reply.text) <= MAX_OUTCOME else reply.text[:MAX_OUTCOME]
        record = CommandRecord(
            at=self.ctx.clock.time(),
            source=caller.source,
            identity=caller.identity,
            command=name,
            args=shown,
            ok=reply.ok,
            outcome=outcome,
        )
        first_line = reply.text.splitlines()[0] if reply.text else ""
        logger.bind(log_key="remote_command").info(
            "remote command from {}: {} -> {}: {}",
            caller,
            " ".join((name, *shown)) or "(malformed)",
            "ok" if reply.ok else "refused",
            first_line[:200],
        )
        self.ctx.hooks.on_command(record)

    # ----------------------------------------------------------------- the commands

    async def _help(self, caller: Caller, args: list[str]) -> Reply:
        lines = [f"{spec.usage}: {spec.help}" for spec in COMMANDS.values()]
        return Reply(True, "help", "\n".join(lines), {"commands": list(COMMANDS)})

    async def _status(self, caller: Caller, args: list[str]) -> Reply:
        ctx = self.ctx
        cache = ctx.cache
        held = ctx.trading_held
        strategies = ctx.strategy_stats()
        disabled = {
            k: v
            for k, v in ctx.stats()["disabled_plugins"].items()
            if not k.startswith(STRATEGY_PREFIX)
        }
        recon = _reconcile_figures(ctx)
        lines = [f"trading: {'HELD (' + held + ')' if held else 'on'}"]
        for sid, s in strategies.items():
            state = s["state"] if not s["reason"] else f"{s['state']} ({s['reason']})"
            lines.append(f"strategy {sid}: {state}")
        for asset, b in sorted(cache.balances.items()):
            lines.append(f"balance {asset}: {b.wallet_balance}")
        lines.append(f"positions: {len(cache.positions)}, open orders: {len(cache.open_orders)}")
        if recon:
            lines.append(
                f"last reconcile: {recon.get('last_status')}, last good "
                f"{_ago(recon.get('seconds_since_good'))}"
            )
        for plugin, why in disabled.items():
            lines.append(f"plugin {plugin} disabled: {why}")
        data = {
            "trading_held": held,
            "strategies": strategies,
            "balances": {a: str(b.wallet_balance) for a, b in sorted(cache.balances.items())},
            "positions": len(cache.positions),
            "open_orders": len(cache.open_orders),
            "disabled_plugins": disabled,
            "reconcile": {
                "last_status": recon.get("last_status"),
                "seconds_since_good": recon.get("seconds_since_good"),
            }
            if recon
            else None,
        }
        return Reply(True, "status", "\n".join(lines), data)

    async def _balance(self, caller: Caller, args: list[str]) -> Reply:
        rows = []
        lines = []
        for asset, b in sorted(self.ctx.cache.balances.items()):
            available = b.available_balance
            rows.append(
                {
                    "asset": asset,
                    "wallet_balance": str(b.wallet_balance),
                    "available_balance": None if available is None else str(available),
                }
            )
            extra = f" (available {available})" if available is not None else ""
            lines.append(f"{asset}: {b.wallet_balance}{extra}")
        return Reply(True, "balance", "\n".join(lines) or "no balances", {"balances": rows})

    async def _positions(self, caller: Caller, args: list[str]) -> Reply:
        rows = []
        lines = []
        for (symbol, side), p in sorted(self.ctx.cache.positions.items()):
            tick = self.ctx.last_ticks.get(symbol)
            mark = tick.mid if tick is not None else None
            pnl = (mark - p.entry_price) * p.amount if mark is not None else p.unrealized_pnl
            rows.append(
                {
                    "symbol": symbol,
                    "side": side,
                    "amount": str(p.amount),
                    "entry_price": str(p.entry_price),
                    "mark_price": None if mark is None else str(mark),
                    "unrealized_pnl": str(pnl),
                }
            )
            where = f" {side}" if side != "BOTH" else ""
            lines.append(f"{symbol}{where}: {p.amount} @ {p.entry_price}, uPnL {_fmt(pnl)}")
        return Reply(
            True, "positions", "\n".join(lines) or "no open positions", {"positions": rows}
        )

    async def _pause(self, caller: Caller, args: list[str]) -> Reply:
        sid = args[0]
        try:
            changed = self.ctx.pause_strategy(sid, str(caller))
        except KeyError:
            raise CommandFailed(_unknown_strategy(self.ctx, sid)) from None
        if not changed:
            why = self.ctx.strategy_paused(sid)
            return Reply(True, "pause", f"strategy {sid} was paused already: {why}", _one(sid))
        return Reply(
            True,
            "pause",
            f"strategy {sid} paused: no ticks, new orders refused (its open orders stay)",
            _one(sid),
        )

    async def _resume(self, caller: Caller, args: list[str]) -> Reply:
        sid = args[0]
        try:
            changed = self.ctx.resume_strategy(sid)
        except KeyError:
            raise CommandFailed(_unknown_strategy(self.ctx, sid)) from None
        except RuntimeError as exc:
            raise CommandFailed(str(exc)) from None
        text = f"strategy {sid} resumed" if changed else f"strategy {sid} was not paused"
        return Reply(True, "resume", text, _one(sid))

    async def _reconcile(self, caller: Caller, args: list[str]) -> Reply:
        outcome = await self.ctx.hooks.reconcile_now(f"manual: {caller}")
        if outcome is None:
            raise CommandFailed("no plugin reconciles on request (is reconciliation enabled?)")
        if not outcome.ok:
            raise CommandFailed(f"reconcile failed in plugin {outcome.plugin}; see the log")
        result = outcome.value
        found = len(result.mismatches)
        repaired = sum(1 for m in result.mismatches if m.repaired)
        text = f"reconcile {result.status}: {found} mismatches, {repaired} repaired"
        if result.error:
            text += f" ({result.error})"
        data = {
            "status": result.status,
            "mismatches": [
                {"kind": m.kind, "key": m.key, "repaired": m.repaired} for m in result.mismatches
            ],
            "duration_s": result.duration_s,
        }
        return Reply(result.status != "error", "reconcile", text, data)

    async def _flatten(self, caller: Caller, args: list[str]) -> Reply:
        now = self.ctx.clock.time()
        if not args:
            code = f"{secrets.randbelow(1_000_000):06d}"
            self._pending[caller] = _Pending(code, now + self.confirm_within)
            positions = len(self.ctx.cache.positions)
            orders = len(self.ctx.cache.open_orders)
            text = (
                f"flatten closes {positions} positions and cancels {orders} open orders. "
                f"To confirm, send: flatten {code} (within {self.confirm_within:g} s)"
            )
            return Reply(True, "flatten", text, {"confirm": code, "within_s": self.confirm_within})
        pending = self._pending.pop(caller, None)  # one attempt per code
        if pending is None:
            raise CommandFailed("no flatten to confirm: send flatten first")
        if now > pending.expires:
            raise CommandFailed("the confirmation code expired: send flatten again")
        if not hmac.compare_digest(pending.code.encode(), args[0].encode()):
            raise CommandFailed("wrong confirmation code: send flatten again")
        result = await flatten_account(self.ctx, reason=f"operator flatten ({caller})")
        return _flatten_reply(result)

    async def _stop(self, caller: Caller, args: list[str]) -> Reply:
        self.ctx.request_stop(f"remote stop ({caller})")
        return Reply(True, "stop", "stopping the bot (graceful shutdown)")


def _flatten_reply(result: FlattenResult) -> Reply:
    """The reply for a ``FlattenResult``: its summary, then one line per action."""
    text = "flatten: " + result.summary() + "\n" + "\n".join(result.lines())
    data = {
        "ok": result.ok,
        "cancelled": [o.client_order_id for o in result.cancelled],
        "closed": [
            {
                "symbol": c.position.symbol,
                "side": c.position.side,
                "amount": str(c.position.amount),
                "order": c.order.client_order_id,
            }
            for c in result.closed
        ],
        "failed": [
            {"step": f.step, "symbol": f.symbol, "target": f.target, "error": f.error}
            for f in result.failed
        ],
    }
    return Reply(result.ok, "flatten", text, data)


def _reconcile_figures(ctx: BotContext) -> dict[str, Any]:
    metrics = getattr(ctx.plugin("reconciliation"), "metrics", None)
    if not callable(metrics):
        return {}
    try:
        figures = metrics()
    except Exception:  # noqa: BLE001 - a status must answer even if a plugin cannot
        return {}
    return dict(figures) if isinstance(figures, Mapping) else {}


def _ago(seconds: Any) -> str:
    return "never" if not isinstance(seconds, (int, float)) else f"{seconds:.0f} s ago"


def _fmt(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.0001')):f}" if value.is_finite() else str(value)


def _one(sid: str) -> dict[str, Any]:
    return {"strategy": sid}


def _unknown_strategy(ctx: BotContext, sid: str) -> str:
    known = ", ".join(ctx.strategy_stats()) or "none"
    return f"no strategy instance {sid[:64]!r}; instances: {known}"


COMMANDS: dict[str, _Spec] = {
    "status": _Spec(
        "status", "trading state, strategies, balances, reconcile", (0, 0), RemoteControl._status
    ),
    "balance": _Spec(
        "balance", "wallet and available balance per asset", (0, 0), RemoteControl._balance
    ),
    "positions": _Spec(
        "positions", "open positions with unrealized PnL", (0, 0), RemoteControl._positions
    ),
    "pause": _Spec(
        "pause <strategy>", "stop one strategy instance trading", (1, 1), RemoteControl._pause
    ),
    "resume": _Spec("resume <strategy>", "undo pause", (1, 1), RemoteControl._resume),
    "reconcile": _Spec(
        "reconcile",
        "check the cache against the exchange now",
        (0, 0),
        RemoteControl._reconcile,
        exclusive=True,
    ),
    "flatten": _Spec(
        "flatten [code]",
        "cancel every order and close every position (asks for a code first)",
        (0, 1),
        RemoteControl._flatten,
        exclusive=True,
    ),
    "stop": _Spec("stop", "shut the bot down gracefully", (0, 0), RemoteControl._stop),
    "help": _Spec("help", "this list", (0, 0), RemoteControl._help),
}
"""Every command by name, with its usage, help line and argument count."""
