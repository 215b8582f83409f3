"""Every symbol a bot on the simulator trades must be one the simulator lists.

A strategy whose symbol the simulator does not list would get no tick and no fill, silently; it
is a settings error instead, naming the key (``tradeloop check`` and startup, exit 2), or, for a
symbol only a strategy's own ``symbols`` attribute names, an error at start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from framework import Settings, SettingsError

from .symbols import SYMBOL_CATALOGUE


def listed_symbols(settings: Settings, own_symbols: Iterable[str] | None) -> list[str]:
    """What the simulator can list: the ``plugins.sim.symbols`` it was given (embedded, set
    explicitly), else its whole catalogue."""
    if own_symbols is not None and not settings.exchange.rest_url:
        return list(own_symbols)
    return sorted(SYMBOL_CATALOGUE)


def check_configured_symbols(settings: Settings, listed: list[str]) -> None:
    """``SettingsError`` for the first symbol ``exchange.symbols`` or a strategy's
    ``params.symbol``/``params.symbols`` names that ``listed`` lacks."""
    allowed = f"a symbol the simulated exchange lists: {', '.join(listed)}"
    known = set(listed)
    for index, symbol in enumerate(settings.exchange.symbols):
        if symbol.upper() not in known:
            raise SettingsError(f"exchange.symbols[{index}]", symbol, allowed)
    for index, strategy in enumerate(settings.strategies):
        if not strategy.enabled:
            continue
        for key, symbol in _param_symbols(strategy.params):
            if symbol.upper() not in known:
                raise SettingsError(f"strategies[{index}].params.{key}", symbol, allowed)


def unlisted(subscribed: Iterable[str], listed: list[str]) -> list[str]:
    """The subscribed symbols the simulator does not list, in order."""
    known = set(listed)
    return [s for s in subscribed if s not in known]


def _param_symbols(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(params.get("symbol"), str):
        out.append(("symbol", params["symbol"]))
    if isinstance(params.get("symbols"), (list, tuple)):
        out.extend(
            (f"symbols[{i}]", s) for i, s in enumerate(params["symbols"]) if isinstance(s, str)
        )
    return out
