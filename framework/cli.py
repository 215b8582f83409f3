"""The ``tradeloop`` command line."""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import orjson
import yaml

from framework import account_cli, bot_scaffold
from framework.commands import Command
from framework.errors import (
    EXIT_OK,
    EXIT_RECORDS_LOST,
    EXIT_RUNTIME_ERROR,
    EXIT_USAGE,
    TradeloopError,
)
from framework.loader import (
    LoadedPlugins,
    discover_plugins,
    is_builtin,
    load_checked,
    raise_load_error,
)
from framework.log_guard import guard_logging, redact
from framework.runtime import Bot, run_async, write_summary
from framework.scaffold import create_plugin_package, plugin_names
from framework.settings import (
    PLUGIN_COMMON_KEYS,
    Settings,
    masked,
    secret_values,
)
from framework.settings_collect import check_core
from framework.strategy import STRATEGY_PREFIX, limits_in_force
from framework.venue import Venue, banner, venue_of

PROG = "tradeloop"
NEW_PLUGIN = "new-plugin"
# Commands that read neither settings nor plugins (they create files).
NO_SETTINGS = (bot_scaffold.INIT, bot_scaffold.NEW_STRATEGY)


def _global_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A plugin-based trading bot whose account cache is reconciled with REST.",
    )
    parser.add_argument(
        "--settings",
        metavar="PATH",
        help="settings file (default: $TRADELOOP_SETTINGS, then ./settings.yaml, then defaults)",
    )
    parser.add_argument(
        "--env", metavar="ENV", help="settings environment to merge over 'default' ($TRADELOOP_ENV)"
    )
    parser.add_argument(
        "--version", action="version", version=f"{PROG} {installed_version()}", help="print it"
    )
    return parser


def installed_version() -> str:
    """The version of the installed tradeloop distribution."""
    try:
        return importlib.metadata.version(PROG)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    """The full parser: core commands plus the ones plugins registered."""
    parser = _global_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser("run", help="run the bot until SIGINT/SIGTERM (or --for SECONDS)")
    run.add_argument("--for", dest="duration", type=_positive_float, metavar="SECONDS")
    run.add_argument("--summary", type=Path, metavar="PATH", help="write a JSON run summary")
    run.add_argument(
        "--live",
        action="store_true",
        help="confirm trading on a live venue (real money); required when the settings select one",
    )
    check = sub.add_parser("check", help="validate settings and print them, secrets masked")
    check.add_argument(
        "--exchange",
        action="store_true",
        help="also ask the exchange (signed read-only calls: time, account, symbols; no order)",
    )
    plugins = sub.add_parser("plugins", help="list known plugins and strategies")
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    new_plugin = sub.add_parser(
        NEW_PLUGIN, help="create a third-party plugin package tradeloop-NAME/ in this folder"
    )
    new_plugin.add_argument("name", metavar="NAME", help="the plugin's name, e.g. price_alerts")
    new_plugin.add_argument(
        "--dir", type=Path, default=Path(), metavar="PATH", help="create it there instead"
    )
    bot_scaffold.configure_init(
        sub.add_parser(
            bot_scaffold.INIT, help="create a bot folder: settings, a strategy, its test"
        )
    )
    bot_scaffold.configure_new_strategy(
        sub.add_parser(
            bot_scaffold.NEW_STRATEGY, help="create a strategy and its test in ./strategies"
        )
    )
    account_cli.configure(sub)
    taken = {"run", "check", "plugins", NEW_PLUGIN, *NO_SETTINGS, *account_cli.COMMANDS}
    for command in commands:
        if command.name in taken:
            raise TradeloopError(f"command {command.name!r} is registered twice")
        taken.add(command.name)
        command.configure(sub.add_parser(command.name, help=command.help))
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def plugin_commands(loaded: LoadedPlugins) -> list[Command]:
    """Commands registered by plugins, in load order."""
    commands: list[Command] = []
    for outcome in reversed(loaded.hooks.register_commands()):  # load order
        raise_load_error(loaded, outcome)
        registered: Sequence[Command] = outcome.value or ()
        commands.extend(registered)
    return commands


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tradeloop`` console script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    pre, rest = _global_parser().parse_known_args(
        [a for a in args_list if a not in ("-h", "--help")]
    )
    if rest[:1] == [NEW_PLUGIN] or rest[:1] in ([c] for c in NO_SETTINGS):
        try:  # needs neither settings nor plugins
            args = build_parser([]).parse_args(args_list)
            if args.command == bot_scaffold.INIT:
                return bot_scaffold.run_init(args)
            if args.command == bot_scaffold.NEW_STRATEGY:
                return bot_scaffold.run_new_strategy(args)
            return _new_plugin(args)
        except TradeloopError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return exc.exit_code
    try:
        core = check_core(pre.settings, env=pre.env)
        found = core.settings.as_dict() if core.settings is not None else {}
        guard_logging([*secret_values(core.raw), *secret_values(found)])
        settings, loaded = load_checked(core)
        commands = plugin_commands(loaded)
        parser = build_parser(commands)
    except TradeloopError as exc:
        _print_error(exc)
        return exc.exit_code
    args = parser.parse_args(args_list)
    try:
        return _dispatch(args, settings, loaded, commands)
    except TradeloopError as exc:
        _print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:  # noqa: BLE001 - a crash: Python's traceback, redacted, no variable values
        print(redact(traceback.format_exc()), end="", file=sys.stderr)
        return EXIT_RUNTIME_ERROR


def _print_error(exc: TradeloopError) -> None:
    """One ``tradeloop: error:`` line per line of the message (one per bad settings key)."""
    for line in redact(str(exc)).splitlines() or [""]:
        print(f"{PROG}: error: {line}", file=sys.stderr)


def _dispatch(
    args: argparse.Namespace, settings: Settings, loaded: LoadedPlugins, commands: list[Command]
) -> int:
    if args.command == "run":
        venue = venue_of(settings)
        if venue is Venue.LIVE and not args.live:
            print(
                f"{PROG}: error: the settings trade on a LIVE venue (exchange "
                f"{settings.exchange.name}, exchange.testnet false, env {settings.env}): real "
                "money. Add --live to `tradeloop run` to confirm; nothing was started",
                file=sys.stderr,
            )
            return EXIT_USAGE
        print(banner(settings), file=sys.stderr, flush=True)
        bot = Bot(settings, loaded)
        summary = run_async(bot.run(args.duration), use_uvloop=settings.runtime.use_uvloop)
        if args.summary:
            write_summary(summary, args.summary)
        lost: dict[str, int] = summary.get("lost_records") or {}
        if lost:
            counts = ", ".join(f"{plugin} lost {count}" for plugin, count in sorted(lost.items()))
            print(f"{PROG}: error: records were lost: {counts} (see the log)", file=sys.stderr)
            return EXIT_RECORDS_LOST
        return EXIT_OK
    if args.command == "check":
        print(f"settings OK (env: {settings.env})")
        print(yaml.safe_dump(effective_settings(settings, loaded), sort_keys=False), end="")
        if args.exchange:
            return _check_exchange(settings, loaded)
        return EXIT_OK
    if args.command == "plugins":
        _print_plugins(loaded, as_json=args.json)
        return EXIT_OK
    if args.command == account_cli.RESUME:
        return account_cli.run_resume(settings)
    if args.command == account_cli.FLATTEN:
        return run_async(
            account_cli.run_flatten(settings, loaded, yes=args.yes),
            use_uvloop=settings.runtime.use_uvloop,
        )
    command = next(c for c in commands if c.name == args.command)
    result = command.run(args, settings)
    if inspect.isawaitable(result):
        result = run_async(result, use_uvloop=settings.runtime.use_uvloop)
    return int(result) if result is not None else EXIT_OK


def _check_exchange(settings: Settings, loaded: LoadedPlugins) -> int:
    """``check --exchange``: the connector's read-only report; exit 1 if something failed."""
    print(f"exchange check ({venue_of(settings).value}):")
    result = run_async(Bot(settings, loaded).check_exchange(), use_uvloop=False)
    if result is None:
        print(f"{PROG}: error: no enabled plugin checks exchanges", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    for line in result.lines:
        print(f"  {redact(line)}")
    return EXIT_OK if result.ok else EXIT_RUNTIME_ERROR


def _new_plugin(args: argparse.Namespace) -> int:
    """Write the plugin package and say what to do next."""
    builtins = frozenset(name for name, ep in discover_plugins().items() if is_builtin(ep))
    root = create_plugin_package(args.name, args.dir, taken=builtins)
    names = plugin_names(args.name)
    print(
        f"created {root}/ (plugin {names.plugin!r}, entry point {names.module}:"
        f"{names.plugin_class})"
    )
    print("next:")
    print(f"  cd {root}")
    print("  pip install -e '.[test]'   # into tradeloop's environment")
    print("  pytest                     # the generated tests run against the simulator")
    print(f"  TRADELOOP_PLUGINS__{names.plugin.upper()}__ENABLED=true tradeloop plugins")
    print("  see README.md there for settings.yaml and publishing")
    return EXIT_OK


def effective_settings(settings: Settings, loaded: LoadedPlugins) -> dict[str, Any]:
    """The settings in force, secrets masked: plugin blocks with their defaults filled in, each
    strategy's risk limits as enforced (its class's defaults under ``strategies[].risk``)."""
    data = settings.as_dict()
    plugins: dict[str, Any] = {}
    for info in loaded.infos:
        if info.kind != "plugin":
            continue
        block = settings.plugins.get(info.name, {})
        own = loaded.configs.get(info.name)
        merged: dict[str, Any] = {"enabled": info.enabled}
        merged.update({k: block[k] for k in PLUGIN_COMMON_KEYS if k in block})
        if own is not None:
            merged.update(msgspec.to_builtins(own))
        plugins[info.name] = merged
    data["plugins"] = plugins
    data["strategies"] = [
        {
            **entry,
            "risk": msgspec.to_builtins(
                limits_in_force(strategy.risk, loaded.pm.get_plugin(STRATEGY_PREFIX + strategy.id))
            ),
        }
        for entry, strategy in zip(data["strategies"], settings.strategies, strict=True)
    ]
    result: dict[str, Any] = masked(data)
    return result


def _print_plugins(loaded: LoadedPlugins, *, as_json: bool) -> None:
    rows: list[dict[str, Any]] = [
        {
            "name": i.name,
            "kind": i.kind,
            "source": i.source,
            "enabled": i.enabled,
            "loaded": i.loaded,
            "hooks": i.hooks,
            "error": i.error,
        }
        for i in loaded.infos
    ]
    if as_json:
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    width = max([len(r["name"]) for r in rows] + [4])
    src_width = max([len(r["source"]) for r in rows] + [6])
    print(f"{'NAME':<{width}}  {'SOURCE':<{src_width}}  ENABLED  HOOKS")
    for r in rows:
        state = "yes" if r["enabled"] else "no"
        if r["error"]:
            state = "error"
        hooks = ", ".join(r["hooks"]) or "-"
        print(f"{r['name']:<{width}}  {r['source']:<{src_width}}  {state:<7}  {hooks}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
