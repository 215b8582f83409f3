"""The plugin author's reference of the public types, ``BotContext`` and ``ExchangeConnector``,
generated from the code so that it cannot drift.

``python -m framework.api_reference --write`` rewrites ``docs/api-reference.md`` (without
``--write``: to stdout); a test fails while the page differs from what the code says.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi

from framework import types
from framework.context import BotContext
from framework.exchange import ExchangeConnector, ExchangeEndpoint
from framework.generated_page import page_main
from framework.strategy import StrategyOrders

COMMAND = "python -m framework.api_reference --write"
PAGE = Path(__file__).resolve().parent.parent / "docs" / "api-reference.md"
TYPES: tuple[type, ...] = (
    types.Tick,
    types.Balance,
    types.Position,
    types.Order,
    types.Fill,
    types.OrderRequest,
    types.AccountSnapshot,
    types.StreamStatus,
    types.Mismatch,
    types.ReconcileResult,
    ExchangeEndpoint,
)
SURFACES: tuple[type, ...] = (BotContext, StrategyOrders, ExchangeConnector)


def _doc(obj: object) -> str:
    """The first paragraph of a docstring, on one line."""
    text = inspect.getdoc(obj) or ""
    return " ".join(text.split("\n\n", 1)[0].split()).replace("``", "`")


def _type(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return _short(text)


def _default(field: mi.Field) -> str:
    if field.required:
        return "required"
    if field.default is not msgspec.NODEFAULT:
        if isinstance(field.default, str):
            return f'`"{field.default}"`'
        return f"`{field.default!r}`"
    return "`" + getattr(field.default_factory, "__name__", "factory") + "()`"


def type_rows(cls: type) -> Iterator[tuple[str, str, str]]:
    """(field, type, default) of a struct, then (property, type, docstring) of its properties."""
    hints = typing.get_type_hints(cls)
    info = mi.type_info(cls)
    assert isinstance(info, (mi.StructType, mi.DataclassType)), cls
    for field in info.fields:
        yield f"`{field.name}`", f"`{_type(hints[field.name])}`", _default(field)
    for name, member in inspect.getmembers(cls, lambda m: isinstance(m, property)):
        if not name.startswith("_"):
            returns = typing.get_type_hints(member.fget).get("return", "")
            yield f"`{name}` (property)", f"`{_type(returns)}`", _doc(member)


def _init_attributes(cls: type) -> list[tuple[str, str]]:
    """Public ``self.x`` attributes set in ``__init__``: (name, annotation or "")."""
    init = cls.__dict__.get("__init__")
    if init is None:
        return []
    tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    params = {
        name: _type(p.annotation).replace("'", "")
        for name, p in _eval_signature(init).parameters.items()
        if p.annotation is not inspect.Parameter.empty
    }
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        target = node.target if isinstance(node, ast.AnnAssign) else None
        targets = [target] if target is not None else getattr(node, "targets", [])
        for t in targets:
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name):
                if t.value.id == "self" and not t.attr.startswith("_"):
                    if isinstance(node, ast.AnnAssign):
                        ann = ast.unparse(node.annotation)
                    elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
                        ann = params.get(node.value.id, "")  # self.x = x: the parameter's type
                    else:
                        ann = ""
                    found.setdefault(t.attr, ann)
    return list(found.items())


def _eval_signature(func: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(func, eval_str=True)
    except NameError:  # an annotation only imported for type checking
        return inspect.signature(func)


def _signature(func: Callable[..., Any]) -> str:
    sig = _eval_signature(func)
    params = [p for name, p in sig.parameters.items() if name != "self"]
    text = str(sig.replace(parameters=params)).replace("'", "")
    return _short(text)


def surface_rows(cls: type) -> Iterator[tuple[str, str]]:
    """(member, description) of every public attribute, property and method of ``cls``."""
    hints = typing.get_type_hints(cls) if cls is ExchangeConnector else {}
    for name, hint in hints.items():
        yield f"`{name}: {_type(hint)}`", "attribute"
    for name, ann in _init_attributes(cls):
        yield (f"`{name}: {ann}`" if ann else f"`{name}`"), "attribute"
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            returns = typing.get_type_hints(member.fget).get("return", "")
            yield f"`{name} -> {_type(returns)}` (property)", _doc(member)
        elif inspect.isfunction(member):
            prefix = "async " if inspect.iscoroutinefunction(member) else ""
            yield f"`{prefix}{name}{_signature(member)}`", _doc(member)


_MODULE_PATH = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.)+(?=[A-Z])")


def _short(annotation: str) -> str:
    """Type names without their module path (``decimal.Decimal`` is ``Decimal``)."""
    return _MODULE_PATH.sub("", annotation)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The whole page."""
    out = [
        "# Plugin author's reference",
        "",
        "<!-- Generated by `python -m framework.api_reference`; do not edit. -->",
        "",
        "Every field of the types plugins receive and send, the `BotContext` every hook gets,",
        "a strategy's order API and the `ExchangeConnector` protocol a connector implements,",
        "generated from the code (a test fails while this page differs). All are importable",
        "from `framework`. Money is `Decimal`; times (`event_time`, ...) are epoch milliseconds.",
        "Hooks and when they are called: [hooks.md](hooks.md). After changing one of these,",
        "regenerate this page:",
        "",
        "```bash",
        COMMAND,
        "```",
        "",
        "## Types",
    ]
    for cls in TYPES:
        out += ["", f"### `{cls.__name__}`", "", _doc(cls), ""]
        out += ["| field | type | default (property: what) |", "|---|---|---|"]
        out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in type_rows(cls)]
    for cls in SURFACES:
        out += ["", f"## `{cls.__name__}`", "", _doc(cls), ""]
        out += ["| member | what |", "|---|---|"]
        out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in surface_rows(cls)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or with ``--write`` replace ``docs/api-reference.md``."""
    return page_main(render, PAGE, COMMAND, argv)


if __name__ == "__main__":
    raise SystemExit(main())
