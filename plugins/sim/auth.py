"""Request signing: HMAC-SHA256 over ``totalParams``, API-key, timestamp and recvWindow checks."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

from .errors import BinanceError, illegal_chars, mandatory

DEFAULT_RECV_WINDOW = 5000


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` with ``secret``, as Binance expects in ``signature``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def strip_signature(raw: str) -> tuple[str, str | None]:
    """Split a raw query string or body into the text without ``signature=..`` and the signature."""
    if not raw:
        return "", None
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&"):
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def merge_params(query: str, body: str) -> dict[str, str]:
    """Parameters from body and query string; the query string wins on a clash."""
    params: dict[str, str] = {}
    for source in (body, query):
        for key, value in parse_qsl(source, keep_blank_values=True):
            params[key] = value
    return params


def check_api_key(header: str | None, api_key: str) -> None:
    """-2014 when the key header is missing or malformed, -2015 when it is not ours."""
    if not header or not header.isprintable() or len(header) > 256:
        raise BinanceError(401, -2014, "API-key format invalid.")
    if not hmac.compare_digest(header.encode(), api_key.encode()):
        raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")


def check_signed(
    query: str,
    body: str,
    params: dict[str, str],
    *,
    secret: str,
    server_time: int,
    max_recv_window: int,
) -> None:
    """Check ``signature``, ``timestamp`` and ``recvWindow`` of a SIGNED request."""
    query_text, query_sig = strip_signature(query)
    body_text, body_sig = strip_signature(body)
    signature = query_sig if query_sig is not None else body_sig
    if not signature:
        raise mandatory("signature")
    raw_ts = params.get("timestamp", "")
    if not raw_ts:
        raise mandatory("timestamp")
    if not raw_ts.isdigit() or len(raw_ts) > 20:
        raise illegal_chars("timestamp", "^[0-9]{1,20}$")
    recv_window = DEFAULT_RECV_WINDOW
    raw_rw = params.get("recvWindow")
    if raw_rw is not None:
        if not raw_rw.isdigit() or len(raw_rw) > 20:
            raise illegal_chars("recvWindow", "^[0-9]{1,20}$")
        recv_window = int(raw_rw)
        if recv_window > max_recv_window:
            raise BinanceError(400, -1131, f"recvWindow must be less than {max_recv_window + 1}.")
    expected = sign(secret, query_text + body_text)
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(400, -1022, "Signature for this request is not valid.")
    timestamp = int(raw_ts)
    if timestamp >= server_time + 1000:
        raise BinanceError(
            400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if server_time - timestamp > recv_window:
        raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
