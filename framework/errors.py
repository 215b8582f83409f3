"""Errors the core turns into one-line messages and exit codes."""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_RUNTIME_ERROR = 1
EXIT_USAGE = 2  # bad settings, unknown or broken plugin, a damaged data file
EXIT_RECORDS_LOST = 3  # the run ended, but a plugin lost records it had accepted (journal)


class TradeloopError(Exception):
    """Base class for errors the CLI reports as a single line, without a traceback."""

    exit_code = EXIT_RUNTIME_ERROR


class SettingsError(TradeloopError):
    """A settings key has a value that is not allowed.

    The message always names the key, the value given (masked if secret) and what is allowed.
    """

    exit_code = EXIT_USAGE

    def __init__(self, key: str, value: object, allowed: str, *, secret: bool = False) -> None:
        self.key = key
        self.value = "***" if secret else value
        self.allowed = allowed
        shown = "***" if secret else repr(value)
        super().__init__(f"settings: {key} = {shown} is not allowed: {allowed}")


class SettingsErrors(SettingsError):
    """Several settings keys are wrong: the message has one line per key, in file order.

    ``key``, ``value`` and ``allowed`` are those of the first; ``errors`` holds them all.
    """

    def __init__(self, errors: Sequence[SettingsError]) -> None:
        if not errors:
            raise ValueError("SettingsErrors needs at least one error")
        self.errors = [e for group in errors for e in _flat(group)]
        first = self.errors[0]
        self.key, self.value, self.allowed = first.key, first.value, first.allowed
        TradeloopError.__init__(self, "\n".join(str(e) for e in self.errors))


def _flat(error: SettingsError) -> list[SettingsError]:
    return error.errors if isinstance(error, SettingsErrors) else [error]


def raise_settings_errors(errors: Sequence[SettingsError]) -> None:
    """Raise nothing for no errors, the one error itself, or ``SettingsErrors`` for several."""
    flat = [e for group in errors for e in _flat(group)]
    if len(flat) == 1:
        raise flat[0]
    if flat:
        raise SettingsErrors(flat)


class PluginLoadError(TradeloopError):
    """An enabled plugin could not be imported, built or registered."""

    exit_code = EXIT_USAGE

    def __init__(self, plugin: str, source: str, cause: str) -> None:
        self.plugin = plugin
        self.source = source
        self.cause = cause
        super().__init__(f"plugin {plugin!r} ({source}) failed to load: {cause}")


class PluginStartError(TradeloopError):
    """A plugin failed while the bot was starting (lifespan, jobs, connector)."""

    exit_code = EXIT_RUNTIME_ERROR


class CacheWriteDenied(TradeloopError):
    """A plugin without the cache-writer role asked for the writable account cache."""

    def __init__(self, plugin: str, why: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r} may not write the account cache: {why}")


class OrderRefused(TradeloopError):
    """The core refused a strategy's order before it left (the message says why)."""


class RiskLimitExceeded(OrderRefused):
    """The order would break one of the strategy instance's risk limits."""


class TradingHeld(OrderRefused):
    """Strategies are held (startup, or the account is being resynchronised)."""


class ShuttingDown(TradingHeld):
    """The bot is shutting down: a strategy's new order is refused (cancels and reduce-only
    orders still go)."""


class StrategyPaused(OrderRefused):
    """The strategy instance was paused after an exception."""


class FilterRefused(OrderRefused):
    """The order would break the symbol's exchange rules (``ctx.rules(symbol)``): refused
    before it left. ``breaches`` names each filter with the values; ``filters`` the names."""

    def __init__(self, symbol: str, breaches: Sequence[object]) -> None:
        self.symbol = symbol
        self.breaches = tuple(breaches)
        self.filters = tuple(dict.fromkeys(str(getattr(b, "filter", b)) for b in self.breaches))
        listed = "; ".join(str(b) for b in self.breaches)
        super().__init__(f"order on {symbol} breaks {', '.join(self.filters)}: {listed}")


class ExchangeFilterRejection(TradeloopError):
    """Base of a connector's error for an order the *exchange* refused for a filter (its
    tick, step, notional, price band or open-order limit). ``filter`` names the filter
    (``PRICE_FILTER``, ``LOT_SIZE``, ...). The order API counts these apart: with rules
    checked locally there should be none."""

    filter: str = ""
