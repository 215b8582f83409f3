"""The pass over raw settings before msgspec validates them against a struct.

Guided by the struct's types, it

* refuses a ``Decimal`` that is not finite or is outside its ``decimal_bounds``, naming the
  key (msgspec has no bounds for ``Decimal``, and a ``NaN`` would only fail later, in a
  comparison, without the key);
* upper-cases the keys of a mapping keyed by ``Asset`` (environment variable keys arrive
  lower-cased: ``TRADELOOP_SIM__BALANCES__USDT`` must override ``USDT``, not add ``usdt``);
* gives a text key the text of its environment variable when that variable parsed as a
  number or a bool (``TRADELOOP_PLUGINS__BINANCE__ORDER_ID_PREFIX=123``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec.inspect as mi

from framework.errors import SettingsError
from framework.setting_types import ASSET_PATTERN, DECIMAL_BOUNDS, DecimalBounds

# Environment variables by their lower-cased key path: (the text, the value it parsed to).
EnvTexts = Mapping[tuple[str, ...], tuple[str, Any]]
UNBOUNDED = DecimalBounds()


def prepare(raw: Any, schema: Any, *, prefix: str, env: EnvTexts) -> Any:
    """``raw`` made ready for ``msgspec.convert(raw, schema)``; raises ``SettingsError``."""
    return _Pass(prefix, env).walk(raw, mi.type_info(schema), [])


def join_path(parts: Sequence[str]) -> str:
    """``["a", "[0]", "b"]`` as ``a[0].b``."""
    out = ""
    for part in parts:
        out += part if part.startswith("[") or not out else "." + part
    return out


class _Pass:
    def __init__(self, prefix: str, env: EnvTexts) -> None:
        self.prefix = prefix
        self.env = env

    def key(self, parts: Sequence[str]) -> str:
        return ".".join(p for p in [self.prefix, join_path(parts)] if p)

    def walk(self, node: Any, info: Any, parts: list[str]) -> Any:
        if isinstance(info, mi.Metadata):
            if isinstance(info.type, mi.DecimalType):
                bounds = (info.extra or {}).get(DECIMAL_BOUNDS, UNBOUNDED)
                return self.decimal(node, bounds, parts)
            return self.walk(node, info.type, parts)
        if isinstance(info, mi.DecimalType):
            return self.decimal(node, UNBOUNDED, parts)
        if isinstance(info, mi.StrType):
            return self.text(node, parts)
        if isinstance(info, mi.StructType) and isinstance(node, Mapping):
            fields = {f.encode_name: f.type for f in info.fields}
            return {
                k: self.walk(v, fields[k], [*parts, k]) if k in fields else v
                for k, v in node.items()
            }
        if isinstance(info, mi.DictType) and isinstance(node, Mapping):
            upper = is_asset(info.key_type)
            out: dict[Any, Any] = {}
            for k, v in node.items():
                name = k.upper() if upper and isinstance(k, str) else k
                out[name] = self.walk(v, info.value_type, [*parts, str(name)])
            return out
        if isinstance(info, (mi.ListType, mi.VarTupleType)) and isinstance(node, (list, tuple)):
            return [self.walk(v, info.item_type, [*parts, f"[{i}]"]) for i, v in enumerate(node)]
        if isinstance(info, mi.UnionType) and node is not None:
            types = [t for t in info.types if not isinstance(t, mi.NoneType)]
            if len(types) == 1:
                return self.walk(node, types[0], parts)
        return node

    def decimal(self, node: Any, bounds: DecimalBounds, parts: list[str]) -> Any:
        if isinstance(node, bool) or not isinstance(node, (str, int, float, Decimal)):
            return node  # msgspec names the key and the type expected
        try:
            value = Decimal(str(node).strip())
        except InvalidOperation:
            return node
        refusal = bounds.refusal(value)
        if refusal is not None:
            raise SettingsError(self.key(parts), node, refusal)
        return node

    def text(self, node: Any, parts: list[str]) -> Any:
        if isinstance(node, str) or not isinstance(node, (int, float)):
            return node
        found = self.env.get(tuple(p.lower() for p in self.key(parts).split(".")))
        if found is not None and found[1] == node and type(found[1]) is type(node):
            return found[0]
        return node


def is_asset(info: Any) -> bool:
    """True for the msgspec type info of an asset name (such keys are upper-cased)."""
    return isinstance(info, (mi.Metadata, mi.StrType)) and (
        getattr(info.type if isinstance(info, mi.Metadata) else info, "pattern", None)
        == ASSET_PATTERN
    )
