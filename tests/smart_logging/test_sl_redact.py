"""The redactor: known secrets and secret-looking patterns are masked, ordinary text is not."""

from __future__ import annotations

import pytest
from sl_helpers import API_KEY, API_SECRET

from framework.redact import MASK, Redactor

LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("GET /fapi/v1/order?symbol=BTCUSDT&timestamp=1&signature=9f86d081884c7d65", "9f86d08"),
        ('{"listenKey": "' + LISTEN_KEY + '"}', LISTEN_KEY),
        ("listenKey=" + LISTEN_KEY, LISTEN_KEY),
        ("connecting to wss://fstream.binance.com/ws/" + LISTEN_KEY, LISTEN_KEY),
        ("headers={'X-MBX-APIKEY': 'abcdEFGH1234'}", "abcdEFGH1234"),
        ("X-MBX-APIKEY: abcdEFGH1234", "abcdEFGH1234"),
        ("api_key=shorty1 apiSecret=s3cr3t!", "shorty1"),
        ("api_key=shorty1 apiSecret=s3cr3t!", "s3cr3t!"),
        ("client_secret: hunter22", "hunter22"),
        ("key=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "eyJhbGciOiJIUzI1NiJ9"),
    ],
)
def test_builtin_patterns_mask_the_value(text: str, hidden: str) -> None:
    out = Redactor()(text)
    assert hidden not in out
    assert MASK in out


def test_known_secrets_are_masked_anywhere_also_url_encoded() -> None:
    redact = Redactor([API_KEY, API_SECRET + "/+"])
    out = redact(f"key {API_KEY} in a sentence, and {API_SECRET}%2F%2B encoded")
    assert API_KEY not in out
    assert API_SECRET not in out
    assert out == f"key {MASK} in a sentence, and {MASK} encoded"


def test_short_or_empty_secrets_are_ignored() -> None:
    redact = Redactor(["", "abc"])
    assert redact("abc is fine") == "abc is fine"


def test_ordinary_text_is_untouched() -> None:
    text = "order 123 BTCUSDT filled; key=BTCUSDT; stream /ws/btcusdt@bookTicker ok"
    assert Redactor()(text) == text


def test_extra_patterns_mask_group_one_or_the_whole_match() -> None:
    redact = Redactor(patterns=[r"account=(\d+)", r"PRIVATE-\w+"])
    assert redact("account=12345 PRIVATE-abc x") == f"account={MASK} {MASK} x"
