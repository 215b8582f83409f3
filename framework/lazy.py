"""Package attributes imported on first use, so importing a plugin stays cheap.

The CLI imports every enabled plugin to build its parser and check settings; a plugin whose
package re-exports its heavy parts (aiohttp, rich, the simulator) lazily keeps ``--help`` and
``check`` fast. Use it as a package's module-level ``__getattr__`` (PEP 562), with the same
names imported under ``TYPE_CHECKING`` for type checkers.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``names`` maps an attribute to the submodule defining it."""

    def __getattr__(name: str) -> Any:
        submodule = names.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
