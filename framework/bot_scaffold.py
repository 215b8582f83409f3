"""``tradeloop init [DIR]`` and ``tradeloop new-strategy NAME``: a bot folder and strategies.

``init`` writes a bot folder: a commented ``settings.yaml``, a ``.secrets.yaml`` template that
git ignores, ``pytest.ini`` and ``strategies/`` with a starter strategy and its test (the
strategy is ``new-strategy``'s). Nothing that exists is overwritten. Templates are package data
(``framework/templates/bot``, ``framework/templates/strategy``).
"""

from __future__ import annotations

import argparse
import keyword
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from framework.errors import EXIT_OK, TradeloopError
from framework.scaffold import MAX_NAME_LENGTH, NAME_PATTERN, ScaffoldError, render, template

INIT = "init"
NEW_STRATEGY = "new-strategy"
STRATEGIES_DIR = "strategies"
DEFAULT_STRATEGY = "starter"
DEFAULT_SYMBOL = "BTCUSDT"

# template (framework/templates/bot/...) -> file in the bot folder
BOT_LAYOUT = {
    "settings.yaml.tmpl": "settings.yaml",
    "secrets.yaml.tmpl": ".secrets.yaml",
    "gitignore.tmpl": ".gitignore",
    "pytest.ini.tmpl": "pytest.ini",
}
STRATEGY_LAYOUT = {
    "strategy.py.tmpl": "{module}.py",
    "test_strategy.py.tmpl": "test_{module}.py",
}

Ask = Callable[[str], str]


@dataclass(frozen=True)
class StrategyNames:
    """``mean-revert`` gives module ``mean_revert`` and class ``MeanRevert``."""

    module: str
    cls: str


def strategy_names(name: str, command: str = NEW_STRATEGY) -> StrategyNames:
    """Validate a strategy ``NAME``; ``ScaffoldError`` (exit 2) says what is wrong."""
    if len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"{command}: {name!r} is not a strategy name: expected lower-case letters and "
            f"digits, words joined by '_' or '-', starting with a letter, at most "
            f"{MAX_NAME_LENGTH} characters (e.g. mean_revert)"
        )
    module = name.replace("-", "_")
    if keyword.iskeyword(module) or module in sys.stdlib_module_names or module in _TAKEN:
        raise ScaffoldError(f"{command}: {name!r} is taken by a Python module; pick another")
    return StrategyNames(module, "".join(part.capitalize() for part in module.split("_")))


# Modules a strategy module must not shadow: tradeloop's own packages and its test imports.
_TAKEN = frozenset({"framework", "plugins", "strategies", "tests", "pytest", "msgspec", "loguru"})


def strategy_files(names: StrategyNames, symbol: str) -> dict[str, str]:
    """File name -> content of a strategy and its test."""
    tokens = {"module": names.module, "Class": names.cls, "symbol": symbol}
    return {
        target.format(module=names.module): render(template("strategy", source), tokens)
        for source, target in STRATEGY_LAYOUT.items()
    }


def create_strategy(name: str, folder: Path, *, symbol: str = DEFAULT_SYMBOL) -> list[Path]:
    """Write ``NAME.py`` and ``test_NAME.py`` into ``folder``; refuses to overwrite."""
    files = {folder / k: v for k, v in strategy_files(strategy_names(name), symbol).items()}
    _write_new(files, NEW_STRATEGY)
    return list(files)


def create_bot(
    folder: Path, *, strategy: str = DEFAULT_STRATEGY, symbol: str = DEFAULT_SYMBOL
) -> list[Path]:
    """Write a bot folder (settings, secrets template, pytest.ini, a strategy and its test)."""
    names = strategy_names(strategy, INIT)
    if not symbol.isalnum() or not symbol.isupper():
        raise ScaffoldError(f"{INIT}: {symbol!r} is not a symbol (e.g. BTCUSDT)")
    tokens = {"module": names.module, "Class": names.cls, "symbol": symbol}
    files = {
        folder / target: render(template("bot", source), tokens)
        for source, target in BOT_LAYOUT.items()
    }
    for name, text in strategy_files(names, symbol).items():
        files[folder / STRATEGIES_DIR / name] = text
    _write_new(files, INIT)
    return list(files)


def _write_new(files: dict[Path, str], command: str) -> None:
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ScaffoldError(f"{command}: {', '.join(existing)} already exists; not overwriting")
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TradeloopError(f"{command}: cannot write {path}: {exc.strerror or exc}") from None


def configure_init(parser: argparse.ArgumentParser) -> None:
    """``init [DIR] [--defaults]``."""
    parser.add_argument("dir", nargs="?", type=Path, default=Path(), metavar="DIR")
    parser.add_argument(
        "--defaults", action="store_true", help="ask nothing: strategy 'starter' on BTCUSDT"
    )


def configure_new_strategy(parser: argparse.ArgumentParser) -> None:
    """``new-strategy NAME [--dir PATH]``."""
    parser.add_argument("name", metavar="NAME", help="the strategy's name, e.g. mean_revert")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(STRATEGIES_DIR),
        metavar="PATH",
        help="where to write it (default: ./strategies)",
    )


def run_init(args: argparse.Namespace, ask: Ask = input) -> int:
    """Create the bot folder; without ``--defaults`` on a terminal, ask for two names."""
    strategy, symbol = DEFAULT_STRATEGY, DEFAULT_SYMBOL
    if not args.defaults and sys.stdin.isatty():
        strategy = ask(f"strategy name [{strategy}]: ").strip() or strategy
        symbol = ask(f"symbol it trades [{symbol}]: ").strip().upper() or symbol
    folder: Path = args.dir
    create_bot(folder, strategy=strategy, symbol=symbol)
    module = strategy_names(strategy, INIT).module
    shown = "." if folder == Path() else str(folder)
    print(f"created a bot in {shown}/: settings.yaml, .secrets.yaml, strategies/{module}.py")
    print("next (with the virtualenv tradeloop is installed in, with the dev extras for pytest):")
    if folder != Path():
        print(f"  cd {folder}")
    print("  tradeloop check              # the settings in force")
    print("  python -m pytest             # the strategy's tests, on the simulator")
    print("  tradeloop run --for 60       # trade a minute on the simulator (data/ keeps it)")
    return EXIT_OK


def run_new_strategy(args: argparse.Namespace) -> int:
    """Write the strategy and its test; say how to enable it."""
    paths = create_strategy(args.name, args.dir)
    names = strategy_names(args.name)
    print("created " + ", ".join(str(p) for p in paths))
    print("enable it in settings.yaml (strategies/ beside it is searched first):")
    print(f'  strategies:\n  - id: {names.module}\n    use: "{names.module}:{names.cls}"')
    return EXIT_OK
