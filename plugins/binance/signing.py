"""Request signing: HMAC-SHA256 (hex) or Ed25519 (base64), and key masking.

The payload is the url-encoded parameter string exactly as sent (FACTS.md §3); ``signature`` is
appended last. Signers never expose the secret in ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlencode


class Signer(Protocol):
    """Signs a payload string."""

    def sign(self, payload: str) -> str:
        """The ``signature`` parameter for ``payload``."""
        ...


class HmacSigner:
    """HMAC-SHA256 over the payload with the API secret, hex encoded."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def sign(self, payload: str) -> str:
        """Hex HMAC-SHA256 of ``payload``."""
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "HmacSigner(secret=***)"


class Ed25519Signer:
    """Ed25519 over the payload with a PEM private key, base64 encoded (needs ``cryptography``)."""

    __slots__ = ("_key",)

    def __init__(self, private_key_pem: str) -> None:
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # type: ignore[import-not-found,unused-ignore]
                Ed25519PrivateKey,
            )
            from cryptography.hazmat.primitives.serialization import (  # type: ignore[import-not-found,unused-ignore]
                load_pem_private_key,
            )
        except ImportError:
            raise ValueError(
                "plugins.binance.key_type = 'ed25519' needs the 'cryptography' package"
            ) from None
        key: Any = load_pem_private_key(private_key_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("exchange.api_secret is not an Ed25519 private key (PEM)")
        self._key = key

    def sign(self, payload: str) -> str:
        """Base64 Ed25519 signature of ``payload``."""
        signature: bytes = self._key.sign(payload.encode())
        return base64.b64encode(signature).decode()

    def __repr__(self) -> str:
        return "Ed25519Signer(key=***)"


def make_signer(key_type: str, secret: str) -> Signer:
    """The signer for ``key_type`` (``hmac`` or ``ed25519``)."""
    if key_type == "ed25519":
        return Ed25519Signer(secret)
    return HmacSigner(secret)


def encode_params(params: Mapping[str, Any]) -> str:
    """Url-encode parameters in the given order (booleans as ``true``/``false``)."""
    return urlencode(
        [
            (k, ("true" if v else "false") if isinstance(v, bool) else str(v))
            for k, v in params.items()
        ]
    )


def signed_query(params: Mapping[str, Any], signer: Signer) -> str:
    """``params`` url-encoded with ``signature`` appended last."""
    payload = encode_params(params)
    signature = quote(signer.sign(payload), safe="")
    return f"{payload}&signature={signature}" if payload else f"signature={signature}"


def mask_key(key: str) -> str:
    """An API key safe to log: its first 4 characters and its length."""
    if not key:
        return "<none>"
    return f"{key[:4]}...({len(key)} chars)"
