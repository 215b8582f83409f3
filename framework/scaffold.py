"""``tradeloop new-plugin NAME``: a ready-to-test third-party plugin package from templates.

The templates are package data (``framework/templates/plugin/*.tmpl``); ``{{token}}`` markers
are replaced by the names derived from ``NAME``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from framework.errors import EXIT_USAGE, TradeloopError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
MAX_NAME_LENGTH = 20  # keeps every generated line within 100 columns
TEMPLATE_PACKAGE = "framework"
TEMPLATE_DIR = ("templates", "plugin")
_TOKEN = re.compile(r"\{\{(\w+)\}\}")

# template file -> path in the generated package ({module} and {plugin} are filled in)
LAYOUT: dict[str, str] = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
    "init.py.tmpl": "{module}/__init__.py",
    "plugin.py.tmpl": "{module}/plugin.py",
    "py.typed.tmpl": "{module}/py.typed",
    "test_plugin.py.tmpl": "tests/test_{plugin}.py",
}


class ScaffoldError(TradeloopError):
    """A bad plugin name or a folder that already exists (exit 2)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class PluginNames:
    """Every name derived from ``NAME``: ``price-alerts`` gives plugin ``price_alerts``,
    folder and distribution ``tradeloop-price-alerts``, module ``tradeloop_price_alerts``,
    classes ``PriceAlertsPlugin`` and ``PriceAlertsSettings``."""

    plugin: str
    dist: str
    module: str
    plugin_class: str
    settings_class: str

    @property
    def folder(self) -> str:
        """The folder created in the current directory."""
        return self.dist

    def tokens(self) -> dict[str, str]:
        """The template tokens."""
        return {
            "plugin": self.plugin,
            "dist": self.dist,
            "folder": self.folder,
            "module": self.module,
            "Class": self.plugin_class,
            "Settings": self.settings_class,
            "ENV": self.plugin.upper(),
            "tradeloop_version": _tradeloop_version(),
        }


def plugin_names(name: str, *, taken: frozenset[str] = frozenset()) -> PluginNames:
    """Validate ``NAME`` and derive the other names; ``ScaffoldError`` says what is wrong."""
    if name == "tradeloop" or name.startswith(("tradeloop-", "tradeloop_")):
        raise ScaffoldError(
            f"new-plugin: {name!r}: give the plugin's own name; 'tradeloop-' is prepended"
        )
    if len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"new-plugin: {name!r} is not a plugin name: expected lower-case letters and digits, "
            f"words joined by '_' or '-', starting with a letter, at most {MAX_NAME_LENGTH} "
            "characters (e.g. price_alerts)"
        )
    plugin = name.replace("-", "_")
    if keyword.iskeyword(plugin):
        raise ScaffoldError(f"new-plugin: {name!r} is a Python keyword")
    if plugin in taken:
        raise ScaffoldError(
            f"new-plugin: {name!r} is the name of a built-in plugin; pick another name"
        )
    camel = "".join(part.capitalize() for part in plugin.split("_"))
    return PluginNames(
        plugin=plugin,
        dist=f"tradeloop-{name}",
        module=f"tradeloop_{plugin}",
        plugin_class=f"{camel}Plugin",
        settings_class=f"{camel}Settings",
    )


def render(template: str, tokens: dict[str, str]) -> str:
    """``template`` with every ``{{token}}`` replaced; an unknown token is a bug (KeyError)."""
    return _TOKEN.sub(lambda m: tokens[m.group(1)], template)


def create_plugin_package(name: str, where: Path, *, taken: frozenset[str] = frozenset()) -> Path:
    """Write the package ``tradeloop-NAME/`` into ``where``; returns its folder.

    Refuses (``ScaffoldError``) a bad name, a name in ``taken`` and an existing folder.
    """
    names = plugin_names(name, taken=taken)
    root = where / names.folder
    if root.exists():
        raise ScaffoldError(f"new-plugin: {root} already exists; not overwriting it")
    tokens = names.tokens()
    files = {
        target.format(module=names.module, plugin=names.plugin): render(_template(source), tokens)
        for source, target in LAYOUT.items()
    }
    try:
        root.mkdir(parents=True)
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TradeloopError(f"new-plugin: cannot write {root}: {exc.strerror or exc}") from None
    return root


def _template(filename: str) -> str:
    return template(TEMPLATE_DIR[1], filename)


def template(kind: str, filename: str) -> str:
    """The text of ``framework/templates/<kind>/<filename>``."""
    node = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR[0], kind, filename)
    return node.read_text(encoding="utf-8")


def _tradeloop_version() -> str:
    try:
        return metadata.version("tradeloop")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.1.0"
