"""Settings: defaults, validation and the SettingsError contract."""

from __future__ import annotations

from decimal import Decimal

import pytest

from framework.errors import SettingsError
from plugins.sim import DEMO_API_KEY, FaultSettings, SimSettings, parse_sim_settings
from plugins.sim.faults import FAULT_NAMES


def test_defaults() -> None:
    s = parse_sim_settings({})
    assert s.seed == 7
    assert s.api_key == DEMO_API_KEY
    assert s.symbols == ["BTCUSDT", "ETHUSDT"]
    assert s.balances == {"USDT": Decimal("10000")}
    assert s.connection_lifetime == 86400
    assert s.listen_key_validity == 3600
    assert s.weight_limit_1m == 2400
    assert s.faults == FaultSettings()


def test_the_fourteen_fault_keys_default_to_off() -> None:
    assert set(FAULT_NAMES) == {
        "drop_user_events",
        "duplicate_user_events",
        "reorder_user_events",
        "delay_user_events",
        "disconnect_every",
        "expire_listen_key_every",
        "stale_after",
        "user_stream_down",
        "silent_user_after",
        "rest_error_rate",
        "unknown_order_outcome_rate",
        "late_order_rate",
        "rate_limit_burst",
        "clock_skew_ms",
    }
    assert all(getattr(FaultSettings(), name) == 0 for name in FAULT_NAMES)


def test_values_are_converted_from_strings() -> None:
    s = parse_sim_settings({"seed": "11", "faults": {"drop_user_events": "0.5"}})
    assert s.seed == 11
    assert s.faults.drop_user_events == 0.5


@pytest.mark.parametrize(
    ("raw", "key", "value"),
    [
        ({"faults": {"drop_user_events": 1.5}}, "plugins.sim.faults.drop_user_events", 1.5),
        ({"faults": {"stale_after": -1}}, "plugins.sim.faults.stale_after", -1),
        ({"updates_per_second": "fast"}, "plugins.sim.updates_per_second", "fast"),
        ({"leverage": 500}, "plugins.sim.leverage", 500),
        ({"symbols": ["DOGEUSDT"]}, "plugins.sim.symbols", ["DOGEUSDT"]),
        ({"balances": {"BUSD": 5}}, "plugins.sim.balances", {"BUSD": Decimal(5)}),
    ],
)
def test_bad_values_name_the_dotted_key(raw: dict[str, object], key: str, value: object) -> None:
    with pytest.raises(SettingsError) as info:
        parse_sim_settings(raw)
    assert info.value.key == key
    assert info.value.value == value
    assert info.value.allowed


def test_unknown_keys_are_rejected_with_the_known_ones() -> None:
    with pytest.raises(SettingsError) as info:
        parse_sim_settings({"faults": {"drop_events": 0.1}})
    assert info.value.key == "plugins.sim.faults.drop_events"
    assert info.value.value == 0.1
    assert "drop_user_events" in info.value.allowed
    with pytest.raises(SettingsError) as top:
        parse_sim_settings({"sed": 1})
    assert top.value.key == "plugins.sim.sed"


def test_secret_is_masked() -> None:
    with pytest.raises(SettingsError) as info:
        parse_sim_settings({"api_secret": 12})
    assert info.value.key == "plugins.sim.api_secret"
    assert "12" not in str(info.value)


def test_settings_are_immutable_structs() -> None:
    s = SimSettings()
    with pytest.raises(AttributeError):
        s.seed = 3  # type: ignore[misc]
