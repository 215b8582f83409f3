"""Binance error answers: an exception carrying the HTTP status and the ``{code, msg}`` body."""

from __future__ import annotations


class BinanceError(Exception):
    """An answer the server gives instead of a result; rendered as ``{"code": .., "msg": ..}``."""

    def __init__(self, status: int, code: int, msg: str, *, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        """The JSON body Binance sends for this error."""
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    """-1102: a mandatory parameter is missing or empty."""
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal_chars(name: str, pattern: str) -> BinanceError:
    """-1100: a parameter does not parse."""
    return BinanceError(
        400,
        -1100,
        f"Illegal characters found in parameter '{name}'; legal range is '{pattern}'.",
    )


def invalid_symbol() -> BinanceError:
    """-1121: the symbol is not listed."""
    return BinanceError(400, -1121, "Invalid symbol.")


def not_required(name: str) -> BinanceError:
    """-1106: a parameter was sent that this order type does not take."""
    return BinanceError(400, -1106, f"Parameter '{name}' sent when not required.")


def invalid_param(name: str) -> BinanceError:
    """-1130: a parameter has a value outside its range."""
    return BinanceError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def bad_combination() -> BinanceError:
    """-1128: optional parameters that cannot be sent together."""
    return BinanceError(400, -1128, "Combination of optional parameters invalid.")


NUMBER_PATTERN = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
INT_PATTERN = "^[0-9]{1,20}$"
