"""Every number a setting takes is bounded; a value that would only fail at run time is refused
at load, by ``check`` and ``run`` alike, with exit 2 and the key named."""

from __future__ import annotations

from decimal import Decimal
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from framework.errors import SettingsError
from framework.loader import OPT_IN_GROUP, PLUGIN_GROUP, STRATEGY_GROUP
from framework.setting_types import DECIMAL_BOUNDS, DecimalBounds
from framework.settings import Settings, convert, load_settings
from plugins.binance.config import BinanceConfig
from plugins.reconciliation.config import ReconciliationSettings
from plugins.sim.config import SimSettings, parse_sim_settings
from plugins.status.settings import StatusSettings
from plugins.webhook.settings import WebhookSettings
from tests.support import run_cli


def settings_structs() -> dict[str, type]:
    """The core ``Settings``, every built-in plugin's declared struct and every built-in
    strategy's params struct, by the key they sit under."""
    structs: dict[str, type] = {"": Settings}
    for ep in distribution("tradeloop").entry_points:
        if ep.group not in (PLUGIN_GROUP, OPT_IN_GROUP, STRATEGY_GROUP):
            continue
        declare = getattr(ep.load(), "declare_settings", None)
        schema = declare() if declare is not None else None
        if schema is not None:
            prefix = "strategies[].params" if ep.group == STRATEGY_GROUP else "plugins"
            structs[f"{prefix}.{ep.name}"] = schema
    return structs


def unbounded(info: Any, key: str, seen: set[type]) -> list[str]:
    """Keys under ``info`` whose numbers lack a lower or an upper bound."""
    if isinstance(info, mi.Metadata):
        if isinstance(info.type, mi.DecimalType):
            bounds = (info.extra or {}).get(DECIMAL_BOUNDS)
            ok = isinstance(bounds, DecimalBounds) and bounds.le is not None
            return [] if ok and (bounds.ge is not None or bounds.gt is not None) else [key]
        return unbounded(info.type, key, seen)
    if isinstance(info, mi.DecimalType):
        return [key]
    if isinstance(info, (mi.IntType, mi.FloatType)):
        low = info.ge is not None or info.gt is not None
        high = info.le is not None or info.lt is not None
        return [] if low and high else [key]
    if isinstance(info, mi.StructType):
        if info.cls in seen:
            return []
        seen.add(info.cls)
        return [
            k for f in info.fields for k in unbounded(f.type, f"{key}.{f.name}".lstrip("."), seen)
        ]
    if isinstance(info, mi.DictType):
        return unbounded(info.key_type, key + "{}", seen) + unbounded(info.value_type, key, seen)
    if isinstance(info, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        return unbounded(info.item_type, key + "[]", seen)
    if isinstance(info, mi.TupleType):
        return [k for t in info.item_types for k in unbounded(t, key + "[]", seen)]
    if isinstance(info, mi.UnionType):
        return [k for t in info.types for k in unbounded(t, key, seen)]
    return []


def test_the_walk_finds_every_kind_of_unbounded_number() -> None:
    class Loose(msgspec.Struct):
        a: int = 0
        b: float = 0.0
        c: Decimal = Decimal(0)
        d: dict[str, Decimal] = {}
        e: list[int] = []
        f: int | None = None
        g: Any = None

    found = unbounded(mi.type_info(Loose), "", set())
    assert found == ["a", "b", "c", "d", "e[]", "f"]


def test_every_numeric_setting_has_a_lower_and_an_upper_bound() -> None:
    structs = settings_structs()
    assert {"", "plugins.sim", "plugins.binance", "plugins.reconciliation"} <= set(structs)
    assert "strategies[].params.ma_crossover" in structs
    found = [
        k for prefix, cls in structs.items() for k in unbounded(mi.type_info(cls), prefix, set())
    ]
    assert found == []


# Each value passed `check` and crashed `run` (or was accepted and misbehaved) before.
BAD = [
    ("TRADELOOP_PLUGINS__RECONCILIATION__INTERVAL", "inf", "plugins.reconciliation.interval"),
    ("TRADELOOP_PLUGINS__RECONCILIATION__INTERVAL", "1e-9", "plugins.reconciliation.interval"),
    ("TRADELOOP_HOOKS__QUEUE_SIZE", "1" + "0" * 30, "hooks.queue_size"),
    (
        "TRADELOOP_PLUGINS__SIM__FAULTS__CLOCK_SKEW_MS",
        "1" + "0" * 20,
        "plugins.sim.faults.clock_skew_ms",
    ),
    ("TRADELOOP_PLUGINS__SIM__MAKER_FEE", "NaN", "plugins.sim.maker_fee"),
    (
        "TRADELOOP_PLUGINS__RECONCILIATION__DEFAULT_TOLERANCE",
        "NaN",
        "plugins.reconciliation.default_tolerance",
    ),
    ("TRADELOOP_PLUGINS__SIM__BALANCES__USDT", "Infinity", "plugins.sim.balances.USDT"),
    ("TRADELOOP_RUNTIME__SHUTDOWN_TIMEOUT", "inf", "runtime.shutdown_timeout"),
    (
        "TRADELOOP_PLUGINS__RECONCILIATION__SILENT_STREAM_AFTER",
        "5",
        "plugins.reconciliation.silent_stream_after",
    ),
    (
        "TRADELOOP_PLUGINS__RECONCILIATION__DEGRADED_POLL_INTERVAL",
        "0",
        "plugins.reconciliation.degraded_poll_interval",
    ),
]


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(("variable", "value", "key"), BAD)
def test_cli_refuses_the_value_with_exit_2_naming_the_key(
    tmp_path: Path, command: str, variable: str, value: str, key: str
) -> None:
    args = ["run", "--for", "5"] if command == "run" else ["check"]
    result = run_cli(*args, cwd=tmp_path, env={variable: value}, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(f"tradeloop: error: settings: {key} = ")
    assert not (tmp_path / "data").exists()


def test_decimal_refusals_name_the_key_inside_structs() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(
            use_files=False,
            overrides={"strategies": [{"id": "a", "use": "x", "risk": {"max_position": "nan"}}]},
        )
    assert info.value.key == "strategies[0].risk.max_position"
    assert "a finite number > 0" in str(info.value)
    with pytest.raises(SettingsError) as info:
        parse_sim_settings({"taker_fee": "2"})
    assert str(info.value) == (
        "settings: plugins.sim.taker_fee = '2' is not allowed: a number >= 0, <= 1"
    )


def test_a_literal_key_lists_the_allowed_values() -> None:
    with pytest.raises(SettingsError) as info:
        convert({"mode": "foo"}, StatusSettings, prefix="plugins.status")
    assert str(info.value) == (
        "settings: plugins.status.mode = 'foo' is not allowed: one of 'auto', 'live', 'log', 'off'"
    )


def test_env_keys_of_an_asset_mapping_keep_the_asset_case(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "default:\n  plugins:\n    sim:\n      balances: {USDT: '10000'}\n", encoding="utf-8"
    )
    monkeypatch.setenv("TRADELOOP_PLUGINS__SIM__BALANCES__USDT", "5000")
    monkeypatch.setenv("TRADELOOP_PLUGINS__SIM__BALANCES__BNB", "2")
    sim = parse_sim_settings(load_settings(path).plugins["sim"])
    assert sim.balances == {"USDT": Decimal(5000), "BNB": Decimal(2)}
    monkeypatch.setenv("TRADELOOP_PLUGINS__RECONCILIATION__TOLERANCES__USDT", "0.01")
    block = load_settings(path).plugins.get("reconciliation", {})
    recon = convert(block, ReconciliationSettings, prefix="plugins.reconciliation")
    assert recon.tolerances == {"USDT": Decimal("0.01")}


def test_numeric_env_value_of_a_text_key_is_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADELOOP_PLUGINS__BINANCE__ORDER_ID_PREFIX", "123")
    monkeypatch.setenv("TRADELOOP_EXCHANGE__API_KEY", "0012345678901234567890")
    monkeypatch.setenv("TRADELOOP_EXCHANGE__API_SECRET", "98765432109876543210")
    monkeypatch.setenv("TRADELOOP_PLUGINS__WEBHOOK__CHAT_ID", "-1001234.50")
    settings = load_settings(use_files=False)
    assert settings.exchange.api_key == "0012345678901234567890"
    assert settings.exchange.api_secret == "98765432109876543210"
    binance = convert(settings.plugins["binance"], BinanceConfig, prefix="plugins.binance")
    assert binance.order_id_prefix == "123"
    webhook = convert(settings.plugins["webhook"], WebhookSettings, prefix="plugins.webhook")
    assert webhook.chat_id == "-1001234.50"
    # A number in a file for a text key is still refused: quote it there.
    with pytest.raises(SettingsError, match=r"plugins\.binance\.order_id_prefix"):
        convert({"order_id_prefix": 456}, BinanceConfig, prefix="plugins.binance")


def test_defaults_are_within_their_own_bounds() -> None:
    assert parse_sim_settings({}) == SimSettings()
    for prefix, cls in settings_structs().items():
        assert convert(msgspec.to_builtins(cls()), cls, prefix=prefix) == cls()
