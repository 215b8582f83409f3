"""Masks API keys, secrets, signatures and listenKeys in text.

The core uses it for every log record and error line (``framework.log_guard``); the
``smart_logging`` plugin adds the user's ``redact_patterns`` on top.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 6

# Each pattern masks its group "v" and keeps the rest of the match.
BUILTIN_PATTERNS: tuple[str, ...] = (
    # key=value, key: value, "key": "value", 'key': 'value' for secret-looking key names:
    # signature, listenKey, X-MBX-APIKEY, api_key, apiSecret, client_secret, password, token ...
    r"(?i)(?P<k>(?:signature|listen_?key|api_?key|api-key|secret|password|passphrase"
    r"|token)[\w-]*[\"']?\s*[:=]\s*[\"']?)(?P<v>[^\s\"'&,;()}\]{][^\s\"'&,;()}\]]*)",
    # any other *key=<long token>: hex or base64 of 16 characters or more
    r"(?i)(?P<k>key[\"']?\s*[:=]\s*[\"']?)(?P<v>[A-Za-z0-9+/_=.-]{16,})",
    # a listenKey in a user-data stream URL: wss://.../ws/<listenKey>, ?streams=<listenKey>
    r"(?P<k>/ws/|/stream\?streams=)(?P<v>[A-Za-z0-9]{32,})",
    # Authorization: Bearer <token>
    r"(?i)(?P<k>\bbearer\s+)(?P<v>[A-Za-z0-9._~+/=-]{8,})",
)
_LISTEN_KEY_IN_URL = re.compile(BUILTIN_PATTERNS[2])
# Every built-in pattern needs one of these (lower-cased) in the text: a cheap pre-check.
TRIGGERS = ("signature", "key", "secret", "password", "passphrase", "token", "bearer", "/ws/")


def strip_listen_keys(text: str) -> str:
    """``text`` with the listenKey of every user-data stream URL masked (``/ws/***``)."""
    if "/ws/" not in text and "/stream?" not in text:
        return text
    return _LISTEN_KEY_IN_URL.sub(_mask_group_v, text)


def _mask_group_v(match: re.Match[str]) -> str:
    start, end = match.span("v")
    offset = match.start()
    text = match.group(0)
    return text[: start - offset] + MASK + text[end - offset :]


def _mask_group_1(match: re.Match[str]) -> str:
    start, end = match.span(1)
    if start < 0:
        return match.group(0)
    offset = match.start()
    text = match.group(0)
    return text[: start - offset] + MASK + text[end - offset :]


def _contains_any(text: str, parts: tuple[str, ...]) -> bool:
    for part in parts:
        if part in text:
            return True
    return False


class Redactor:
    """Replaces known secret values and secret-looking patterns with ``***``.

    :param secrets: literal values to mask wherever they appear (also URL-encoded); values
        shorter than ``MIN_SECRET_LENGTH`` are ignored, they would mask ordinary words.
    :param patterns: extra regular expressions; group 1 is masked if the pattern has groups,
        otherwise the whole match.
    """

    def __init__(self, secrets: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                values.update({secret, quote(secret, safe=""), quote_plus(secret)})
        self._values = tuple(sorted(values, key=len, reverse=True))
        literal = "|".join(re.escape(v) for v in self._values)
        self._literal = re.compile(literal) if literal else None
        self._builtin = [re.compile(p) for p in BUILTIN_PATTERNS]
        self._extra = [compile_pattern(p) for p in patterns]

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        # Plain ``in`` checks first: every log record passes here, most hold no secret.
        if self._literal is not None and _contains_any(text, self._values):
            text = self._literal.sub(MASK, text)
        if _contains_any(text.lower(), TRIGGERS) or "/stream?" in text:
            for pattern in self._builtin:
                text = pattern.sub(_mask_group_v, text)
        for extra in self._extra:
            text = extra.sub(_mask_group_1 if extra.groups else MASK, text)
        return text


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile one user pattern (``re.error`` if it is not a valid regular expression)."""
    return re.compile(pattern)
