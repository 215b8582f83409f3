"""The value checks (``checks.py``): the hot path's inline checks agree with the thorough ones,
and each insane value the issue names is refused with a reason naming the field."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.binance import checks
from plugins.binance import decode as d
from plugins.binance.checks import Horizon, Names
from tests.hostile import FAR_FUTURE_MS, HUGE_ID, NUMBERS

from .test_decode_hot_path import RecordingSink, user_stream

NOW = 1_700_000_000_000


def horizon() -> Horizon:
    return Horizon(lambda: NOW, 300_000)


@pytest.mark.parametrize("text", NUMBERS)
def test_insane_numbers_are_refused(text: str) -> None:
    value = Decimal(text)
    problem = checks.amount_problem(value) or checks.digits_problem(value)
    assert problem is not None
    assert len(problem) < 120  # a 5,000-digit value is cut in the log


def test_sane_amounts_pass_and_signs_are_checked() -> None:
    for text in ("0", "-0.00000001", "122624.12345678", "999999999999999999"):
        assert checks.amount_problem(Decimal(text)) is None
    assert checks.amount_problem(Decimal("-1"), signed=False) == "Decimal('-1') is negative"


def test_names_ids_and_times() -> None:
    names = Names()
    assert names.problem("BTCUSDT") is None
    assert names.problem("币安人生USDT") is None  # non-ASCII symbols exist on Binance
    for bad in ("BTC\u202eUSDT", "BTC\x00", "", "A B", "X" * 33):
        assert names.problem(bad) is not None, bad
    assert checks.client_id_problem("tl-bot-1") is None
    assert checks.client_id_problem("web_AbC:1/2.3") is None
    assert checks.client_id_problem(HUGE_ID) is not None
    h = horizon()
    assert h.problem(NOW + 299_000) is None
    assert "ahead of the exchange clock" in (h.problem(FAR_FUTURE_MS) or "")
    assert h.problem(-1) is not None


def test_a_refusal_names_the_field() -> None:
    raw = orjson.dumps(
        {
            "e": "ORDER_TRADE_UPDATE",
            "E": NOW,
            "o": {
                "s": "BTCUSDT",
                "c": "a",
                "S": "BUY",
                "o": "LIMIT",
                "q": "1",
                "p": "1",
                "x": "NEW",
                "X": "NEW",
                "i": 1,
                "z": "NaN",
            },
        }
    )
    event = msgspec.json.decode(raw, type=d.OrderTradeUpdate)
    problem = checks.order_update_problem(event, Names(), horizon())
    assert problem == "o.z: Decimal('NaN') is not a number"


AMOUNT = st.one_of(
    st.sampled_from(["0", "1.5", "-3.25", "97000.1", "-0.001", *NUMBERS, "-5"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=8).map(str),
)
NAME = st.sampled_from(["USDT", "BTC", "BTCUSDT", "ETHUSDT", "BTC\u202eUSDT\x00", "A" * 40])


@st.composite
def account_update(draw: st.DrawFn) -> bytes:
    balances = draw(
        st.lists(st.fixed_dictionaries({"a": NAME, "wb": AMOUNT, "cw": AMOUNT}), max_size=3)
    )
    positions = draw(
        st.lists(
            st.fixed_dictionaries(
                {"s": NAME, "pa": AMOUNT, "ep": AMOUNT, "up": AMOUNT},
                optional={"bep": AMOUNT},
            ),
            max_size=3,
        )
    )
    when = draw(st.sampled_from([NOW - 5, NOW, NOW + 200_000, FAR_FUTURE_MS, -1]))
    return orjson.dumps({"e": "ACCOUNT_UPDATE", "E": when, "a": {"B": balances, "P": positions}})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(account_update(), min_size=1, max_size=6))
def test_the_hot_path_applies_a_message_exactly_when_the_thorough_check_passes(
    stream: list[bytes],
) -> None:
    sink = RecordingSink()
    user = user_stream(sink)
    user.horizon = horizon()
    applied_expected = 0
    for raw in stream:
        before = len(sink.calls)
        user.handle(raw)
        event = msgspec.json.decode(raw, type=d.AccountUpdate)
        sane = checks.account_update_problem(event, Names(), horizon()) is None
        entries = len(event.a.B) + len(event.a.P)
        assert len(sink.calls) - before == (entries if sane else 0)
        applied_expected += sane
    assert user.counters.rejected == len(stream) - applied_expected
    assert user.counters.dispatch_errors == 0
