"""The settings key that made the connector trade a symbol the exchange does not list.

The connector refuses to start on such a symbol (``UnlistedSymbols``); this names the key a
trader has to fix, the way every settings error does: ``exchange.symbols[i]``,
``strategies[i].params.symbol``, ``strategies[i].params.symbols[j]``, or, for a symbol only a
strategy's ``symbols`` attribute names, ``strategies[i].use``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from framework import Settings, SettingsError
from framework.strategy import STRATEGY_PREFIX, declared_symbols

SHOWN = 10  # list every listed symbol up to this many; else close matches only


def unlisted_error(
    settings: Settings,
    plugin: Callable[[str], object | None],
    symbol: str,
    listed: frozenset[str],
) -> SettingsError:
    """A ``SettingsError`` naming the key of ``symbol`` and what the exchange lists."""
    return SettingsError(_key_of(settings, plugin, symbol), symbol, _allowed(symbol, listed))


def _key_of(settings: Settings, plugin: Callable[[str], object | None], symbol: str) -> str:
    for index, name in enumerate(settings.exchange.symbols):
        if name.upper() == symbol:
            return f"exchange.symbols[{index}]"
    for index, strategy in enumerate(settings.strategies):
        if not strategy.enabled:
            continue
        params = strategy.params
        names = params.get("symbols")
        if isinstance(names, (list, tuple)):
            for j, name in enumerate(names):
                if isinstance(name, str) and name.upper() == symbol:
                    return f"strategies[{index}].params.symbols[{j}]"
        one = params.get("symbol")
        if isinstance(one, str) and one.upper() == symbol:
            return f"strategies[{index}].params.symbol"
        if symbol in declared_symbols({}, plugin(STRATEGY_PREFIX + strategy.id)):
            return f"strategies[{index}].use"
    return "exchange.symbols"


def _allowed(symbol: str, listed: frozenset[str]) -> str:
    what = "a symbol GET /fapi/v1/exchangeInfo lists as TRADING"
    if len(listed) <= SHOWN:
        return f"{what}: {', '.join(sorted(listed)) or 'none'}"
    close = difflib.get_close_matches(symbol, sorted(listed), n=3)
    hint = f"; close: {', '.join(close)}" if close else ""
    return f"{what} ({len(listed)} are){hint}"
